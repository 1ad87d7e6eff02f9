"""GrootPolicy: a ChunkPolicy over a GR00T server, and the executor that plays it on the control loop.

Per request it snapshots the simulator for the cameras the server asks for (rendered off the control
thread: ``Env.render_later``), slices the state groups out of ``Observation.state``, and sends the skill
call's instruction. The reply's chunk (its length is read from the reply) is cut to the first ``k`` actions,
made absolute where the mapping says the values are relative, and resampled from the policy's rate
(the dataset's fps) to the control rate by holding each action for its interval, as it was recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from envs.base import Observation, WorldState
from skills.policies.chunked import ChunkedPolicyExecutor, SpeedLimit
from skills.policies.groot.client import GrootClient
from skills.policies.groot.embodiment import GrootEmbodiment

DEFAULT_K = 8  # actions executed per chunk of 16, as GR00T's examples do


@dataclass(frozen=True)
class GrootObservation(Observation):
    frames: Future | None = None  # env camera -> (H, W, 3) uint8, being rendered off the control thread
    states: dict[str, np.ndarray] = field(default_factory=dict)  # wire state group -> (D,)


class GrootPolicy:
    """Args:
    client: a connected GrootClient (its modality config already read).
    embodiment: the env <-> wire mapping.
    env: the env (cameras, joint groups, control rate).
    groups: the env joint groups this policy writes (the skill call's claim).
    instruction: the language instruction sent with every request.
    k: actions executed per chunk.
    """

    def __init__(
        self,
        client: GrootClient,
        embodiment: GrootEmbodiment,
        env,
        groups: tuple[str, ...],
        instruction: str,
        k: int = DEFAULT_K,
    ) -> None:
        self.client, self.emb, self.env = client, embodiment, env
        self.instruction = instruction
        self.k = k
        spec = client.spec()
        sizes = {n: g.size for n, g in env.embodiment.groups.items()}
        self.dims = embodiment.action_dims(sizes)
        served = set(spec.action_keys or embodiment.action)
        wire_of = {m.group: key for key, m in embodiment.action.items() if key in served}
        missing = [g for g in groups if g not in wire_of]
        if missing:
            raise ValueError(
                f"the GR00T server at {client.address} does not drive {', '.join(missing)} "
                f"(it returns: {', '.join(sorted(served))}; mapping '{embodiment.name}')"
            )
        self.groups = tuple(groups)
        self._wire = {g: wire_of[g] for g in groups}
        unknown = [k for k in spec.video_keys if k not in embodiment.cameras]
        if unknown:
            raise ValueError(
                f"the GR00T server wants camera(s) {', '.join(unknown)}; mapping '{embodiment.name}' "
                f"has {', '.join(embodiment.cameras)}"
            )
        self._cameras = {k: embodiment.cameras[k] for k in (spec.video_keys or embodiment.cameras)}
        # Relative actions are offsets from the state at the request: capture it even if the server
        # does not ask for it.
        relative = [key for g, key in self._wire.items() if embodiment.action[key].rep == "relative"]
        self._state_keys = list(dict.fromkeys([*(spec.state_keys or embodiment.state), *relative]))
        self.ticks_per_action = 1.0 / (embodiment.fps * env.control_dt)

    def capture(self, obs: Observation, world: WorldState) -> GrootObservation:
        """The request's inputs at this tick: the state now, the frames of it to come (the control thread
        only copies the simulator's state for them)."""
        w, h = self.emb.image_size
        frames = self.env.render_later(list(dict.fromkeys(self._cameras.values())), w, h)
        states = {k: np.asarray(obs.state[self.emb.state_slice(k)], np.float64) for k in self._state_keys}
        return GrootObservation(
            obs.time_s, obs.state, obs.velocity, obs.base_pose, frames=frames, states=states
        )

    def infer(self, obs: Observation, world: WorldState) -> dict[str, np.ndarray]:
        """Ask the server (off the control thread, after ``capture``)."""
        if not isinstance(obs, GrootObservation):
            obs = self.capture(obs, world)
        drawn = obs.frames.result() if obs.frames is not None else {}
        return self._infer({key: drawn[cam] for key, cam in self._cameras.items()}, obs.states)

    def _infer(
        self, frames: Mapping[str, np.ndarray], states: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        chunk = self.client.get_action(frames, states, self.instruction, self.dims)
        out = {}
        for group, key in self._wire.items():
            a = chunk[key][: self.k]
            if self.emb.action[key].rep == "relative":
                a = a + states[key][None]
            out[group] = self._resample(a)
        return out

    def _resample(self, a: np.ndarray) -> np.ndarray:
        """(n, D) at the policy rate -> (ticks, D) at the control rate, each action held over its slot."""
        ticks = max(1, round(len(a) * self.ticks_per_action))
        idx = np.minimum((np.arange(ticks) / self.ticks_per_action + 1e-9).astype(int), len(a) - 1)
        return a[idx]


def groot_executor(
    policy: GrootPolicy, steps: int, limits: Mapping[str, SpeedLimit] | None = None
) -> ChunkedPolicyExecutor:
    """Play ``policy`` for ``steps`` ticks, every chunk in full. The next request goes out half a chunk
    before the current one runs out, earlier once a slower answer showed it must (up to a whole chunk)."""
    chunk_ticks = max(1, round(policy.k * policy.ticks_per_action))
    return ChunkedPolicyExecutor(
        policy,
        steps=steps,
        prefetch_at=math.ceil(chunk_ticks / 2),
        limits=limits,
        play_whole_chunk=True,
        adaptive_prefetch=True,
    )
