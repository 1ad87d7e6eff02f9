"""The Tandem VLA as a ChunkPolicy: ego frame + joints + instruction in, joint-target chunks out.

``capture`` snapshots the simulator on the control thread and its frame is rendered off it
(``Env.render_later``); ``infer`` waits for the frame and runs the network off that thread too. A
chunk is predicted at the dataset's rate (20 Hz) and only its first ``execute`` actions are played,
each held for the ticks of its interval at the control rate (as the recorder sampled them), before the
next chunk is asked for.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from envs.base import Observation, WorldState
from skills.policies.vla.configuration_vla import G1
from skills.policies.vla.policy import VLAPolicy


@dataclass(frozen=True)
class CameraObservation(Observation):
    frames: Future = None  # type: ignore[assignment]  # {camera: (H, W, 3) uint8}, rendered off-thread


class VLAChunkPolicy:
    """Args:
    policy: a loaded VLAPolicy.
    env: the env (its renderer, embodiment and control rate).
    instruction: what to do, in words ("move the red block to the yellow zone").
    groups: the joint groups this call owns; the model's other outputs are dropped.
    execute: actions of each 16-step chunk played before the next inference.
    """

    def __init__(
        self,
        policy: VLAPolicy,
        env,
        instruction: str,
        groups: tuple[str, ...],
        execute: int = 8,
        embodiment: str = G1,
    ) -> None:
        cfg = policy.config
        if not 1 <= execute <= cfg.chunk:
            raise ValueError(f"execute must be 1..{cfg.chunk} actions of a chunk, got {execute}")
        cfg.embodiment(embodiment)
        self.policy, self.env, self.instruction = policy, env, instruction
        self.groups = tuple(groups)
        self.embodiment = embodiment
        self.camera = cfg.camera.rsplit(".", 1)[-1]  # observation.images.ego_view -> ego_view
        self._index = {g: env.embodiment.groups[g].state_index for g in self.groups}
        ticks = max(1, round(execute / cfg.fps / env.control_dt))
        self._which = np.minimum(
            (np.arange(ticks) * env.control_dt * cfg.fps + 1e-9).astype(int), execute - 1
        )
        self.latencies_s: list[float] = []

    def capture(self, obs: Observation, world: WorldState) -> CameraObservation:
        h, w = self.policy.config.image_size
        frames = self.env.render_later([self.camera], w, h)
        return CameraObservation(obs.time_s, obs.state, obs.velocity, obs.base_pose, frames=frames)

    def infer(self, obs: Observation, world: WorldState) -> dict[str, np.ndarray]:
        import time

        if not isinstance(obs, CameraObservation):
            raise TypeError(
                "VLAChunkPolicy.infer needs the frame from capture() (run it in ChunkedPolicyExecutor)"
            )
        image = obs.frames.result()[self.camera]
        t0 = time.perf_counter()
        chunk = self.policy.predict(image[None], obs.state[None], [self.instruction], self.embodiment)[0]
        self.latencies_s.append(time.perf_counter() - t0)
        played = chunk[self._which]
        return {g: played[:, idx] for g, idx in self._index.items()}
