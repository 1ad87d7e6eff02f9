"""``tandem dataset replay``: play an episode's recorded actions open loop in a fresh env and judge it.

The env is reset with the episode's seed and scene perturbations (its metadata), then each frame's action
(the joint targets, and the base velocity on a robot that has one) is held for the control ticks of that
frame, at the recorded rate, exactly as a policy emitting one action per frame would run. The task's
success predicates judge the world after the last action has been held ``SETTLE_S`` more. Success again
means the recorded actions and observations line up in time and the episode does not depend on anything
the dataset leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.datasets import format as fmt
from eval.datasets.reader import Dataset
from eval.datasets.recorder import frame_ticks
from eval.datasets.writer import DatasetError

SETTLE_S = 0.5


@dataclass
class ReplayResult:
    episode: int
    task: str
    seed: int
    recorded_success: bool
    success: bool
    detail: str
    max_state_error: float  # rad, largest joint deviation from the recorded observations
    sim_s: float


def replay(ds: Dataset, index: int) -> ReplayResult:
    from eval.datasets.episode import env_for, judge, reset
    from skills.tasks import load_task

    ep = ds.episode(index)
    for key in ("task_name", "seed", "perturbations"):
        if key not in ep:
            raise DatasetError(
                f"{ds.root / fmt.EPISODES}: episode {index} has no '{key}': only episodes written by "
                "`tandem collect` can be replayed"
            )
    task = load_task(ep["task_name"], ep.get("locomotion"))  # recorded on legs or gliding
    e = env_for(task)
    reset(e, ep["seed"], ep["perturbations"])
    env = e.env
    start = env.world_state()
    cols = ds.columns(index)
    actions, base, states = cols[fmt.ACTION], cols.get(fmt.BASE_VELOCITY), cols[fmt.STATE]
    n = len(actions)
    ticks = frame_ticks(ds.fps, env.control_dt, n + 1)
    groups = env.embodiment.groups
    holonomic = env.embodiment.base_mode == "holonomic"
    err = 0.0
    obs = env.observation()
    for k in range(n):
        err = max(err, float(np.abs(obs.state - states[k]).max()))
        command = {name: actions[k][g.state_index].astype(float) for name, g in groups.items()}
        if holonomic and base is not None:
            command["base"] = base[k].astype(float)
        for _ in range(ticks[k + 1] - ticks[k]):
            obs = env.step(command)
    for _ in range(round(SETTLE_S / env.control_dt)):
        env.step(command)
    world = env.world_state()
    ok, details = judge(task, world, start)
    return ReplayResult(
        episode=index,
        task=task.name,
        seed=ep["seed"],
        recorded_success=bool(ep.get("success")),
        success=ok and world.unstable is None,
        detail="; ".join(details),
        max_state_error=round(err, 5),
        sim_s=round(world.time_s, 3),
    )
