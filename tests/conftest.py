"""Test session setup: offline G1 assets when the shared copy exists, a headless GL backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_SHARED_MENAGERIE = Path(__file__).resolve().parents[2] / "shared" / "menagerie"
if "MENAGERIE_ROOT" not in os.environ and _SHARED_MENAGERIE.is_dir():
    os.environ["MENAGERIE_ROOT"] = str(_SHARED_MENAGERIE)

from envs.rendering.gl import choose_gl_backend  # noqa: E402

choose_gl_backend()
_SHARED_POLICIES = Path(__file__).resolve().parents[2] / "shared" / "policies"
if "TANDEM_POLICY_ROOT" not in os.environ and _SHARED_POLICIES.is_dir():
    os.environ["TANDEM_POLICY_ROOT"] = str(_SHARED_POLICIES)  # the walker's ONNX file, offline
os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture(scope="session", autouse=True)
def _menagerie_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Nothing the tests do may write into the home directory's menagerie cache.
    os.environ.setdefault("MENAGERIE_CACHE_DIR", str(tmp_path_factory.mktemp("menagerie-cache")))


@pytest.fixture
def lab():
    """A fresh g1_lab env, seed 0."""
    from envs.lab.env import G1LabEnv

    env = G1LabEnv(seed=0)
    yield env
    env.close()
