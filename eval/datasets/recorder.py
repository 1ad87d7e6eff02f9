"""Sample a running Runtime at the policy rate: state, commanded targets and camera frames.

The control loop ticks at 1/control_dt (50 Hz); frame k is the observation at the first tick at or after
k/fps (at 20 fps that is every 2 or 3 ticks), and its action is the command the runtime sent from that
observation: what a policy emitting one action per frame would send then and hold until frame k+1 (the
replay holds it so). Holding the command of the frame's first tick re-succeeded on 6 of 6 block episodes
replayed open loop at 20 fps, holding the last one of the interval on 3 of 6 (it closes the fingers early).
Videos are encoded as the episode runs.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from eval.datasets.format import image_key
from eval.datasets.video import VideoEncoder
from eval.datasets.writer import image_stats

STATS_STRIDE = 5  # every 5th frame feeds the per-episode image stats


def frame_ticks(fps: int, control_dt: float, n_frames: int) -> list[int]:
    """The control tick at which each frame is observed: the first at or after k/fps."""
    dt = Fraction(control_dt).limit_denominator(100_000)
    return [math.ceil(Fraction(k, fps) / dt) for k in range(n_frames)]


class Recorder:
    """Attach to a Runtime with ``attach``; ``finish`` closes the videos and returns the arrays."""

    def __init__(self, env, fps: int, cameras: list[str], size: int, video_dir: Path, stem: str) -> None:
        self.env = env
        self.fps = fps
        self.cameras = cameras
        self.size = size
        self.dt = Fraction(env.control_dt).limit_denominator(100_000)
        self.encoders = {
            cam: VideoEncoder(video_dir / f"{stem}.{cam}.mp4", fps, size, size) for cam in cameras
        }
        self.states: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []
        self.base: list[np.ndarray] = []
        self._samples: dict[str, list[np.ndarray]] = {cam: [] for cam in cameras}
        self.render_s = 0.0
        self._start_tick = 0

    def _next_tick(self) -> int:
        return self._start_tick + math.ceil(Fraction(len(self.states), self.fps) / self.dt)

    def attach(self, rt) -> None:
        """Record a Runtime from its current tick on."""
        self.begin(rt.ticks, rt.obs)
        rt.on_tick.append(lambda rt: self.tick(rt.ticks, rt.obs))

    def begin(self, ticks: int, obs) -> None:
        """Start at control tick ``ticks`` (its observation ``obs``); then call ``tick`` after every step."""
        self._start_tick = ticks
        self._capture(obs)

    def tick(self, ticks: int, obs) -> None:
        if len(self.actions) < len(self.states):  # the command sent from the last frame's observation
            self._close_frame()
        if ticks == self._next_tick():
            self._capture(obs)

    def _close_frame(self) -> None:
        targets, base = self.env.command_targets()
        self.actions.append(targets)
        self.base.append(base)

    def _capture(self, obs) -> None:
        t0 = time.perf_counter()
        k = len(self.states)
        self.states.append(obs.state.copy())
        for cam, enc in self.encoders.items():
            frame = self.env.render(cam, self.size, self.size)
            enc.append(frame)
            if k % STATS_STRIDE == 0:
                self._samples[cam].append(frame)
        self.render_s += time.perf_counter() - t0

    def finish(self) -> dict:
        """Close the last frame (its action: the targets in force now, when it was observed at the very
        end) and the videos."""
        if len(self.actions) < len(self.states):
            self._close_frame()
        for enc in self.encoders.values():
            enc.close()
        return {
            "state": np.asarray(self.states, np.float32),
            "action": np.asarray(self.actions, np.float32),
            "base_velocity": np.asarray(self.base, np.float32),
            "videos": {image_key(cam): enc.path for cam, enc in self.encoders.items()},
            "image_stats": {image_key(cam): image_stats(np.stack(s)) for cam, s in self._samples.items()},
        }

    def abort(self) -> None:
        for enc in self.encoders.values():
            try:
                enc.close()
            finally:
                enc.path.unlink(missing_ok=True)
