"""WavePolicy: a tiny chunk policy that waves one arm, with an optional inference latency.

It stands in for a learned policy wherever the test is about the executor interface and timing
(chunking, prefetch, late answers), not about what the policy learned.
"""

from __future__ import annotations

import time

import numpy as np

from envs.base import Observation, WorldState
from envs.robots.g1.g1_constants import GROUP_JOINTS


class WavePolicy:
    def __init__(
        self, side: str = "left", horizon: int = 16, latency_s: float = 0.0, dt: float = 0.02
    ) -> None:
        self.groups: tuple[str, ...] = (f"{side}_arm",)
        self.horizon = horizon
        self.latency_s = latency_s
        self.dt = dt
        self.calls = 0
        self._t0: float | None = None  # the wave's phase counts from the first observation
        self._index = slice(15, 22) if side == "left" else slice(29, 36)

    def infer(self, obs: Observation, world: WorldState) -> dict[str, np.ndarray]:
        self.calls += 1
        if self.latency_s:
            time.sleep(self.latency_s)  # a remote server thinking
        base = np.array(obs.state[self._index])
        if self._t0 is None:
            self._t0 = obs.time_s
        t = obs.time_s - self._t0 + self.dt * np.arange(1, self.horizon + 1)
        chunk = np.repeat(base[None], self.horizon, axis=0)
        # Shoulder roll out to the side (+ for the left arm) and back, never below 0.15 rad of raise.
        side = 1.0 if self.groups[0].startswith("left") else -1.0
        chunk[:, 1] = side * (0.6 + 0.25 * np.sin(2 * np.pi * 0.5 * t))
        assert chunk.shape[1] == len(GROUP_JOINTS[self.groups[0]])
        return {self.groups[0]: chunk}
