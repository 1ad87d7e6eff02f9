"""ChunkedPolicyExecutor: a policy that answers with action chunks, run off the control thread.

GR00T-style policies return a chunk of H future actions per inference, and a remote server may take
several control ticks to answer. The executor plays the current chunk one action per tick, asks for
the next one in a background thread before the current one runs out, and, when an answer is late,
keeps holding its last targets: the control loop (and every other executor) never waits for it.

An inference that raises ends the call: ``error`` says why and the monitors fail it (``policy_error``).

A policy's targets are not trusted to be smooth (a chunk may start far from where the arm is, and
consecutive chunks need not join up): groups given a ``SpeedLimit`` have their targets moved towards
the policy's at no more than that speed, starting from the measured joints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import numpy as np

from envs.base import Observation, WorldState


class ChunkPolicy(Protocol):
    """Maps an observation to a chunk of actions, ``{group: (H, group_size)}``.

    A policy that needs camera frames also defines ``capture(obs, world) -> Observation``: the executor
    calls it on the control thread at the request's tick (it takes what it needs of the simulator's state
    then; ``Env.render_later`` draws the frames off that thread) and passes its result to ``infer``.
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
    play_whole_chunk: an answer that arrives early waits until the current chunk is played out (every
        chunk is executed in full, as GR00T's clients execute k actions per request); otherwise the
        newest chunk replaces the current one on arrival.
    adaptive_prefetch: when an answer took more ticks than ``prefetch_at``, ask that much earlier from
        then on (up to a whole chunk ahead), so a slow server stops being late after its first answer.
    lockstep: when the chunk in hand is played out, wait for the next one instead of holding the
        targets: simulated time stands still while the policy thinks, as a simulator benchmark measures
        a policy. Off (the default), the robot holds meanwhile, as it would on hardware.
    """

    def __init__(
        self,
        policy: ChunkPolicy,
        steps: int,
        prefetch_at: int = 4,
        limits: Mapping[str, SpeedLimit] | None = None,
        play_whole_chunk: bool = False,
        adaptive_prefetch: bool = False,
        lockstep: bool = False,
    ) -> None:
        self.policy = policy
        self.groups = tuple(policy.groups)
        self.steps = steps
        self.prefetch_at = prefetch_at
        self.limits = dict(limits or {})
        self.play_whole_chunk = play_whole_chunk
        self.adaptive_prefetch = adaptive_prefetch
        self.lockstep = lockstep
        self._submitted_at = 0
        self._target: dict[str, np.ndarray] = {}  # last limited targets
        self._t = 0.0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policy")
        self._pending: Future | None = None
        self._chunk: dict[str, np.ndarray] | None = None
        self._queued: dict[str, np.ndarray] | None = None
        self._i = 0
        self._ticks = 0
        self.late_ticks = 0  # ticks spent holding because no chunk had arrived
        self.chunk_latency_s: list[float] = []  # wall time of each inference, in arrival order
        self.error: str | None = None

    def reset(self, obs: Observation, world: WorldState) -> None:
        self._chunk, self._queued, self._i, self._ticks, self.late_ticks = None, None, 0, 0, 0
        self._target = {g: obs.state[lim.state_index].copy() for g, lim in self.limits.items()}
        self._t = obs.time_s
        self._request(obs, world)

    def resume(self, obs: Observation) -> None:
        """Go on with the chunks in hand after a pause (another call held the groups meanwhile): the
        speed limits start again from the measured joints."""
        self._target = {g: obs.state[lim.state_index].copy() for g, lim in self.limits.items()}
        self._t = obs.time_s

    def _request(self, obs: Observation, world: WorldState) -> None:
        capture = getattr(self.policy, "capture", None)
        if capture is not None:
            obs = capture(obs, world)
        self._pending = self._pool.submit(_timed, partial(self.policy.infer, obs, world))
        self._submitted_at = self._ticks

    def _chunk_len(self) -> int:
        return 0 if self._chunk is None else min(len(v) for v in self._chunk.values())

    def act(self, obs: Observation, world: WorldState) -> dict[str, np.ndarray]:
        self._ticks += 1
        if self.error is not None:
            return {}
        starved = self._chunk_len() <= self._i and self._queued is None
        if self._pending is not None and (self._pending.done() or (self.lockstep and starved)):
            try:
                answer, latency = self._pending.result()
            except Exception as e:
                self._pending, self.error = None, f"{type(e).__name__}: {e}"
                return {}
            self._pending = None
            self.chunk_latency_s.append(latency)
            chunk = {g: np.asarray(v) for g, v in answer.items()}
            if self.adaptive_prefetch:
                longest = min(len(v) for v in chunk.values()) - 1
                self.prefetch_at = max(self.prefetch_at, min(longest, self._ticks - self._submitted_at + 1))
            if self.play_whole_chunk and self._chunk_len() > self._i:
                self._queued = chunk
            else:
                self._chunk, self._i = chunk, 0
        if self._queued is not None and self._chunk_len() <= self._i:
            self._chunk, self._queued, self._i = self._queued, None, 0
        left = self._chunk_len() - self._i
        if self._pending is None and self._queued is None and left <= self.prefetch_at:
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

    def stats(self) -> dict[str, Any]:
        """What the run record keeps about this call's inference: latency per chunk, late ticks."""
        ms = [round(s * 1000, 2) for s in self.chunk_latency_s]
        return {"chunks": len(ms), "late_ticks": self.late_ticks, "chunk_latency_ms": ms}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _timed(job: Callable[[], Mapping[str, np.ndarray]]) -> tuple[Mapping[str, np.ndarray], float]:
    t0 = time.perf_counter()
    out = job()
    return out, time.perf_counter() - t0
