"""Scripted whole-task experts, for scenes that have no skill library (the SO-100 arm): a task file names
one with ``expert:`` instead of skill ``calls``. Each is an executor (``reset(obs, world)``, ``act``,
``finished``) with the scenes it runs on and the scene objects it knows."""

from __future__ import annotations

from typing import Any

from skills.controllers.so100 import SO100BlockExpert, SO100LiftExpert

EXPERTS: dict[str, type[Any]] = {"so100_block": SO100BlockExpert, "so100_lift": SO100LiftExpert}


def get_expert(name: str) -> type[Any]:
    cls = EXPERTS.get(name)
    if cls is None:
        raise KeyError(f"unknown expert '{name}'; experts: {', '.join(sorted(EXPERTS))}")
    return cls
