"""Env registry: ``make(name, **kwargs)`` builds a registered simulator backend; ``make_scene(scene)``
builds whichever backend a scene belongs to (every construction of an env for a scene goes through it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from envs.base import Env

_ENVS: dict[str, Callable[..., Env]] = {}
_SCENES: dict[str, str] = {}  # scene name -> env name, for scenes that are not G1 lab scenes
DEFAULT_ENV = "g1_lab"


def register_env(name: str, factory: Callable[..., Env], scenes: Iterable[str] = ()) -> None:
    """Register a backend; ``scenes`` are the scene names it builds (``make_scene`` routes them to it)."""
    _ENVS[name] = factory
    for scene in scenes:
        _SCENES[scene] = name


def make(name: str = DEFAULT_ENV, **kwargs: Any) -> Env:
    """Build an env: ``make("g1_lab", seed=0)``; ``scene=`` picks another scene file for the lab."""
    if name not in _ENVS:
        raise KeyError(f"unknown env '{name}'; registered: {', '.join(sorted(_ENVS))}")
    return _ENVS[name](**kwargs)


def env_for_scene(scene: str) -> str:
    return _SCENES.get(scene, DEFAULT_ENV)


def make_scene(scene: str = "g1_lab", locomotion: str | None = None, **kwargs: Any) -> Env:
    """The env for a scene name or YAML path: ``make_scene("g1_lab", seed=3)``. ``locomotion`` (holonomic,
    walker[:PATH]) reaches only backends with legs to drive; None keeps the scene's default."""
    if locomotion is not None:
        kwargs["locomotion"] = locomotion
    return make(env_for_scene(scene), scene=scene, **kwargs)


def all_envs() -> list[str]:
    return sorted(_ENVS)


def all_scenes() -> dict[str, str]:
    """Scenes registered with their own backend, and that backend."""
    return dict(_SCENES)


def _g1_lab(**kwargs: Any) -> Env:
    from envs.lab.env import G1LabEnv

    kwargs.setdefault("scene", "g1_lab")
    return G1LabEnv(**kwargs)


def _so100(**kwargs: Any) -> Env:
    from envs.so100.env import SO100Env

    kwargs.setdefault("scene", "so100_block")
    return SO100Env(**kwargs)


register_env("g1_lab", _g1_lab)
register_env("so100", _so100, scenes=("so100_block",))
