#!/usr/bin/env bash
# On the laptop side, before a device call: what the GPU machine lacks, in ignored folders of the checkout
# (64 MiB in all travel with the call; name .whl .gl .assets in `carry`).
#   .whl/    Python 3.12 wheels the machine's image does not hold (its list: the device tool's KINDS.md);
#            PyAV (36 MB zipped) travels as a tar.xz of its files (25 MB) to fit.
#   .gl/     the EGL client libraries as Debian packages (unpacked there by start.sh).
#   .assets/ the G1 model (tar.xz, 10 MB) and the sentence vectors of every task instruction and recipe
#            text (the 90 MB sentence encoder cannot travel; TANDEM_SENTENCE_VECTORS points at them).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
for d in .whl .gl .assets; do grep -qx "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >> .git/info/exclude; done
mkdir -p .whl .gl .assets
platforms=(--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_24_x86_64
           --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_5_x86_64
           --platform manylinux1_x86_64)
version() { python3 -m pip show "$1" | sed -n 's/^Version: //p'; }
# Everything Tandem imports for collect/train/eval that the image lacks, at the versions installed here.
names=(mujoco mujoco-core mink qpsolvers daqp pydantic pydantic-core annotated-types typing-inspection
       mujoco-menagerie fast-simplification glfw pyopengl langgraph langgraph-checkpoint
       langgraph-checkpoint-sqlite langgraph-prebuilt langgraph-sdk langchain-core langchain-protocol langsmith
       jsonpatch jsonpointer orjson ormsgpack tenacity aiosqlite sqlite-vec requests-toolbelt uuid-utils distro
       jiter sniffio websockets prompt-toolkit wcwidth pyzmq typer click rich)
specs=(); for n in "${names[@]}"; do specs+=("$n==$(version "$n")"); done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" -d .whl "${specs[@]}"
if [ ! -f .whl/av.tar.xz ]; then
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d "$tmp" "av==$(version av)"
  (cd "$tmp" && unzip -q av-*.whl && rm av-*.whl && tar cf - . | xz -T0 -9) > .whl/av.tar.xz
  rm -rf "$tmp"
fi
if [ -z "$(ls .gl/*.deb 2>/dev/null)" ]; then
  mkdir -p /tmp/amd64/partial
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  apt-get "${o[@]}" update -qq
  (cd .gl && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
root=${MENAGERIE_ROOT:?set MENAGERIE_ROOT to the folder holding unitree_g1/}
[ -f .assets/unitree_g1.tar.xz ] || tar cf - -C "$root" --exclude='*.png' unitree_g1 | xz -T0 -6 > .assets/unitree_g1.tar.xz
tandem collect --list --json > .assets/tasks.json
python3 -m skills.policies.vla.language --out .assets/vectors.json --tasks-json .assets/tasks.json --recipes
du -sh .whl .gl .assets
