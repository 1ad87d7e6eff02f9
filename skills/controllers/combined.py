"""Run several executors as one call (e.g. both hands of ``open_hand(both)``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.base import Observation, WorldState
from skills.executor import Executor


class Combined:
    """Executors on disjoint groups, stepped together; finished when all are."""

    def __init__(self, parts: Sequence[Executor]) -> None:
        self.parts = list(parts)
        self.groups = tuple(g for p in self.parts for g in p.groups)

    def reset(self, obs: Observation, world: WorldState) -> None:
        for p in self.parts:
            p.reset(obs, world)

    def act(self, obs: Observation, world: WorldState) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for p in self.parts:
            out.update(p.act(obs, world))
        return out

    @property
    def finished(self) -> bool:
        return all(p.finished for p in self.parts)

    def close(self) -> None:
        for p in self.parts:
            p.close()
