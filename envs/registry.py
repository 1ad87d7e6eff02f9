"""Env registry: ``make(name, **kwargs)`` builds a registered simulator backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from envs.base import Env

_ENVS: dict[str, Callable[..., Env]] = {}


def register_env(name: str, factory: Callable[..., Env]) -> None:
    _ENVS[name] = factory


def make(name: str = "g1_lab", **kwargs: Any) -> Env:
    """Build an env: ``make("g1_lab", seed=0)``; ``scene=`` picks another scene file for the lab."""
    if name not in _ENVS:
        raise KeyError(f"unknown env '{name}'; registered: {', '.join(sorted(_ENVS))}")
    return _ENVS[name](**kwargs)


def all_envs() -> list[str]:
    return sorted(_ENVS)


def _g1_lab(**kwargs: Any) -> Env:
    from envs.lab.env import G1LabEnv

    kwargs.setdefault("scene", "g1_lab")
    return G1LabEnv(**kwargs)


register_env("g1_lab", _g1_lab)
