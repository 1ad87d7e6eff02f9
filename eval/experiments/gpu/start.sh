#!/usr/bin/env bash
# Set up a fresh GPU machine and start job.sh in its own session; returns at once.
set -euo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
mkdir -p /tmp/site /tmp/assets runs/gpu
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
for t in .whl/*.tar.xz; do tar xJf "$t" -C /tmp/site; done  # packages too large to carry as wheels (av)
tar xJf .assets/unitree_g1.tar.xz -C /tmp/assets
source eval/experiments/gpu/env.sh
test -f "$TANDEM_SENTENCE_VECTORS"
python3 -c "import agent.session, agent.cli.main, torch, mujoco, av; print('torch', torch.__version__, torch.cuda.get_device_name(0), 'mujoco', mujoco.__version__, 'av', av.__version__)"
setsid nohup bash eval/experiments/gpu/job.sh > runs/gpu/job.log 2>&1 < /dev/null &
echo "job started"
