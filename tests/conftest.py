"""Test session setup: offline G1 assets when the shared copy exists, a headless GL backend."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
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


_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
_TRIM = getattr(_LIBC, "malloc_trim", None)  # glibc only


@pytest.fixture(autouse=True)
def _hand_back_freed_memory():
    """A test worker builds hundreds of envs and sessions, and glibc keeps the heap they freed: one grew
    past 7 GB over the suite (two of them on CI's 24 GB, beside eval workers, Ray and training). After each
    test the freed heap goes back to the system; a worker then holds what its live objects need."""
    yield
    gc.collect()
    if _TRIM is not None:
        _TRIM(0)


@pytest.fixture
def lab():
    """A fresh g1_lab env, seed 0, on the holonomic base (the skills' tests; the walker has its own)."""
    from envs.lab.env import G1LabEnv

    env = G1LabEnv(seed=0, locomotion="holonomic")
    yield env
    env.close()
