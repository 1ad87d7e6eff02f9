"""Find a walker's ONNX file like the robot model: a configured path, else a folder of policies
($TANDEM_POLICY_ROOT, e.g. ../shared/policies), else the cache, else a one-time download; check its sha256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from envs.locomotion.config import LocomotionPolicyConfig, PolicyError

ENV_ROOT = "TANDEM_POLICY_ROOT"


def cache_dir() -> Path:
    root = os.environ.get("TANDEM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "tandem"
    )
    return Path(root) / "policies"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verified(path: Path, cfg: LocomotionPolicyConfig) -> Path:
    if cfg.sha256 is not None:
        got = sha256_of(path)
        if got != cfg.sha256:
            raise PolicyError(
                f"{path}: sha256 {got} does not match walker '{cfg.name}' (expected {cfg.sha256}); "
                "the file is corrupt or another policy: delete it, or describe it in its own YAML"
            )
    return path


def resolve_policy_file(cfg: LocomotionPolicyConfig, config_path: Path, explicit: Path | None = None) -> Path:
    """The walker's ONNX file, verified; downloads it into the cache when no copy is found."""
    if explicit is not None:
        if not explicit.is_file():
            raise PolicyError(f"{explicit}: no such walker policy file (expected an ONNX file)")
        return _verified(explicit, cfg)
    candidates = [config_path.parent / cfg.file]
    if os.environ.get(ENV_ROOT):
        candidates.append(Path(os.environ[ENV_ROOT]) / cfg.name / cfg.file)
    cached = cache_dir() / cfg.name / cfg.file
    candidates.append(cached)
    for path in candidates:
        if path.is_file():
            return _verified(path, cfg)
    if cfg.url is None:
        where = ", ".join(str(p) for p in candidates)
        raise PolicyError(
            f"walker '{cfg.name}': {cfg.file} not found (looked in {where}) and no url to fetch"
        )
    return _verified(_download(cfg.url, cached), cfg)


def _download(url: str, dest: Path) -> Path:
    import urllib.request

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            tmp.write_bytes(r.read())
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise PolicyError(
            f"could not download the walker policy from {url}: {e}\noffline? set {ENV_ROOT} to a folder "
            f"holding <name>/<file> (e.g. ../shared/policies), pass walker:PATH.onnx, or glide with "
            "--locomotion holonomic"
        ) from None
    os.replace(tmp, dest)  # atomic: a half-written download is never found in the cache
    return dest
