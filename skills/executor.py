"""The executor interface: what runs a skill call, tick by tick, on the joint groups it owns.

Scripted controllers and learned/remote chunked policies both implement it, so the runtime composes
them the same way. An executor never decides whether its skill succeeded: monitors read that from
the world state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np

from envs.base import Observation, WorldState

GroupCommand = Mapping[str, np.ndarray]  # joint group -> targets (or "base" -> (vx, vy, yaw_rate))


@runtime_checkable
class Executor(Protocol):
    """Runs one skill call. ``groups`` are the joint groups it writes (and nothing else)."""

    groups: tuple[str, ...]

    def reset(self, obs: Observation, world: WorldState) -> None:
        """Called once when the call starts, with the world as it is then."""

    def act(self, obs: Observation, world: WorldState) -> GroupCommand:
        """Commands for this tick, only for ``self.groups``; an empty mapping holds the last targets."""

    @property
    def finished(self) -> bool:
        """The executor has played its whole motion (monitors then judge the result)."""

    def close(self) -> None:
        """Stop background work (inference threads, connections)."""
