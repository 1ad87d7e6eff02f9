"""ChunkedPolicyExecutor: a policy that answers with action chunks, run off the control thread.

GR00T-style policies return a chunk of H future actions per inference, and a remote server may take
several control ticks to answer. The executor plays the current chunk one action per tick, asks for
the next one in a background thread before the current one runs out, and, when an answer is late,
keeps holding its last targets: the control loop (and every other executor) never waits for it.

A policy's targets are not trusted to be smooth (a chunk may start far from where the arm is, and
consecutive chunks need not join up): groups given a ``SpeedLimit`` have their targets moved towards
the policy's at no more than that speed, starting from the measured joints.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from envs.base import Observation, WorldState


class ChunkPolicy(Protocol):
    """Maps an observation to a chunk of actions, ``{group: (H, group_size)}``.

    A policy that needs camera frames also defines ``capture(obs, world) -> Observation``: the executor
    calls it on the control thread (renderers belong to it) and passes its result to ``infer``.
    """

    groups: tuple[str, ...]

    def infer(self, obs: Observation, world: WorldState) -> Mapping[str, np.ndarray]: ...


@dataclass(frozen=True)
class SpeedLimit:
    """The fastest a group's joint targets may move (rad/s); ``state_index`` locates the group in
    ``Observation.state``."""

    state_index: np.ndarray
    rad_s: float


class ChunkedPolicyExecutor:
    """Args:
    policy: the chunk policy.
    steps: ticks to run before the call is finished (the skill's judge decides success).
    prefetch_at: ask for the next chunk when this many actions of the current one are left.
    limits: speed limits per group (groups not named get the policy's targets as they are).
    """

    def __init__(
        self,
        policy: ChunkPolicy,
        steps: int,
        prefetch_at: int = 4,
        limits: Mapping[str, SpeedLimit] | None = None,
    ) -> None:
        self.policy = policy
        self.groups = tuple(policy.groups)
        self.steps = steps
        self.prefetch_at = prefetch_at
        self.limits = dict(limits or {})
        self._target: dict[str, np.ndarray] = {}  # last limited targets
        self._t = 0.0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policy")
        self._pending: Future | None = None
        self._chunk: dict[str, np.ndarray] | None = None
        self._i = 0
        self._ticks = 0
        self.late_ticks = 0  # ticks spent holding because no chunk had arrived

    def reset(self, obs: Observation, world: WorldState) -> None:
        self._chunk, self._i, self._ticks, self.late_ticks = None, 0, 0, 0
        self._target = {g: obs.state[lim.state_index].copy() for g, lim in self.limits.items()}
        self._t = obs.time_s
        self._request(obs, world)

    def _request(self, obs: Observation, world: WorldState) -> None:
        capture = getattr(self.policy, "capture", None)
        if capture is not None:
            obs = capture(obs, world)
        self._pending = self._pool.submit(self.policy.infer, obs, world)

    def _chunk_len(self) -> int:
        return 0 if self._chunk is None else min(len(v) for v in self._chunk.values())

    def act(self, obs: Observation, world: WorldState) -> dict[str, np.ndarray]:
        self._ticks += 1
        if self._pending is not None and self._pending.done():
            self._chunk = {g: np.asarray(v) for g, v in self._pending.result().items()}
            self._i, self._pending = 0, None
        left = self._chunk_len() - self._i
        if self._pending is None and left <= self.prefetch_at:
            self._request(obs, world)
        dt, self._t = obs.time_s - self._t, obs.time_s
        if left <= 0:
            self.late_ticks += 1
            return {}
        out = {g: v[self._i] for g, v in self._chunk.items()}  # type: ignore[union-attr]
        self._i += 1
        for g, lim in self.limits.items():
            if g in out:
                step = lim.rad_s * dt
                self._target[g] = self._target[g] + np.clip(out[g] - self._target[g], -step, step)
                out[g] = self._target[g].copy()
        return out

    @property
    def finished(self) -> bool:
        return self._ticks >= self.steps

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
