"""Trajectories of eval episodes: what the experiment diagnostics compare (joint paths, grasp points).

A tick hook samples the run at a fixed rate — time, the joint state, each gripper's grasp point (the
embodiment's ``effectors`` sites: the G1's ``{side}_pinch`` between thumb and finger tips, the SO-100's
jaw site), what each gripper holds, every object's position — and writes ``trajectory.npz`` into the
episode's run record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

FILE = "trajectory.npz"


class TrajectoryLog:
    """Samples ``env`` at ``hz``: call it as a Runtime tick hook (``session.system_one.on_tick``) or call
    ``sample(obs, world)`` after each step; ``save`` writes the record."""

    def __init__(self, env, hz: float) -> None:
        self.dt = 1.0 / hz
        self.env = env
        self._next = -1.0
        self.effectors = tuple(env.embodiment.effectors)
        self._sites = self._site_ids(env)
        self.rows: dict[str, list[Any]] = {"t": [], "q": [], "hands": [], "held": [], "objects": []}
        self.names: list[str] | None = None

    def _site_ids(self, env) -> list[int] | None:
        model = getattr(env, "model", None)
        if model is None or not self.effectors:
            return None
        import mujoco

        sites = env.embodiment.effectors
        ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, sites[e]) for e in self.effectors]
        return ids if min(ids) >= 0 else None

    def __call__(self, rt) -> None:
        self.sample(rt.obs, rt.world)

    def sample(self, obs, world) -> None:
        t = float(obs.time_s)
        if t < self._next:
            return
        self._next = t + self.dt - 1e-9
        if self.names is None:
            self.names = [n for n, o in world.objects.items() if o.type != "zone"]
        hands = (
            self.env.data.site_xpos[self._sites].copy()
            if self._sites is not None
            else np.full((len(self.effectors), 3), np.nan)
        )
        holding = world.robot.holding
        index = {n: i for i, n in enumerate(self.names)}
        self.rows["t"].append(t)
        self.rows["q"].append(np.asarray(obs.state, np.float32))
        self.rows["hands"].append(hands.astype(np.float32))
        self.rows["held"].append([index.get(holding.get(e) or "", -1) for e in self.effectors])
        self.rows["objects"].append([world.objects[n].pos for n in self.names])

    def save(self, run_dir: Path) -> None:
        if not self.rows["t"]:
            return
        np.savez_compressed(
            Path(run_dir) / FILE,
            t=np.asarray(self.rows["t"]),
            q=np.stack(self.rows["q"]),
            hands=np.stack(self.rows["hands"]),
            held=np.asarray(self.rows["held"], np.int16),
            objects=np.asarray(self.rows["objects"], np.float32),
            names=np.asarray(self.names or []),
            effectors=np.asarray(self.effectors),
        )


def load_trajectory(run_dir: str | Path) -> dict[str, np.ndarray] | None:
    """The arrays of an episode's trajectory.npz, or None when it has none."""
    path = Path(run_dir) / FILE
    if not path.exists():
        return None
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
