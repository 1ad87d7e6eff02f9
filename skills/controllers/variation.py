"""Perturbations of the scripted expert, so recorded demonstrations vary as a person's would.

The collector samples one ``ExpertVariation`` per episode (seeded, recorded in the episode's metadata) and
runs the expert inside ``expert_variation(v)``; scripted executors read it when they are made. Outside that
block every executor plays the nominal motion (all offsets zero, speed 1).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class ExpertVariation:
    """Args:
    speed: arm speed factor (planned joint speed and minimum move times scale with it).
    grasp_offset: (x, y, z) m added to the grasp point (world frame for the block pinch; for a side grasp
        x/y shift along the approach and sideways, z up the object).
    approach_offset: m added to the pre-grasp clearance (above the block, or back from a side grasp).
    via_offset: (x, y, z) m added to the via point beside the body the hand rises through.
    """

    speed: float = 1.0
    grasp_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    approach_offset: float = 0.0
    via_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if not 0.5 <= self.speed <= 1.5:
            raise ValueError(f"speed factor must be within [0.5, 1.5], got {self.speed}")


NOMINAL = ExpertVariation()
_CURRENT: ContextVar[ExpertVariation] = ContextVar("expert_variation", default=NOMINAL)


def current_variation() -> ExpertVariation:
    return _CURRENT.get()


@contextlib.contextmanager
def expert_variation(v: ExpertVariation) -> Iterator[None]:
    """Scripted executors made inside this block play ``v``."""
    token = _CURRENT.set(v)
    try:
        yield
    finally:
        _CURRENT.reset(token)
