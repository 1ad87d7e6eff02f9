"""Control-loop overhead: dispatcher + composition + monitors per tick with three executors active.

    python -m eval.bench loop [--seconds 4] [--repeats 3]

Three executors run together (walk_to on the base, wave on each arm through the chunked-policy
executor). The runtime times its own work apart from the executors' compute, env.step (physics) and
world_state() extraction; the raw mj_step cost of the same tick is measured on the same model.
"""

from __future__ import annotations

import argparse
import statistics
import time

import mujoco
from rich.console import Console
from rich.table import Table


def _one(seconds: float, seed: int) -> dict[str, float]:
    from agent.runtime import Runtime
    from envs.lab.env import G1LabEnv

    env = G1LabEnv(seed=seed, locomotion="holonomic")
    rt = Runtime(env)
    rt.call("walk", "walk_to", {"station": "shelf"})
    rt.call("wave_l", "wave", {"arm": "left", "seconds": seconds})
    rt.call("wave_r", "wave", {"arm": "right", "seconds": seconds})
    three = 0
    per_tick: list[float] = []
    while len(rt.dispatcher.active) + len(rt.dispatcher.pending) > 0 and rt.world.time_s < seconds:
        before = rt.overhead_s
        rt.tick()
        if len(rt.dispatcher.active) == 3:
            three += 1
            per_tick.append(rt.overhead_s - before)
    n = rt.ticks
    data = mujoco.MjData(env.model)
    data.qpos[:] = env.data.qpos
    t0 = time.perf_counter()
    reps = 200
    for _ in range(reps):
        mujoco.mj_step(env.model, data, nstep=env.n_substeps)
    raw = (time.perf_counter() - t0) / reps
    env.close()
    return {
        "overhead_us": statistics.median(per_tick) * 1e6,
        "overhead_mean_us": rt.overhead_s / n * 1e6,
        "executors_us": rt.executor_s / n * 1e6,
        "env_step_us": rt.env_s / n * 1e6,
        "world_state_us": rt.world_state_s / n * 1e6,
        "raw_physics_us": raw * 1e6,
        "ticks_with_three": three,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m eval.bench loop", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=4.0, help="simulated seconds per repeat")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    runs = [_one(args.seconds, seed) for seed in range(args.repeats)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    t = Table(
        "per control tick (median of repeats)",
        "µs",
        title=f"control loop, 3 executors, {args.repeats} x {args.seconds} s sim",
    )
    t.add_row(
        "runtime overhead: dispatcher + composition + monitors (median tick)", f"{med['overhead_us']:.0f}"
    )
    t.add_row("runtime overhead, mean over all ticks", f"{med['overhead_mean_us']:.0f}")
    t.add_row("executors' own compute", f"{med['executors_us']:.0f}")
    t.add_row("env.step (physics + chemistry)", f"{med['env_step_us']:.0f}")
    t.add_row("world_state() extraction", f"{med['world_state_us']:.0f}")
    t.add_row("raw mj_step of the same tick", f"{med['raw_physics_us']:.0f}")
    t.add_row("overhead / raw physics", f"{med['overhead_us'] / med['raw_physics_us']:.2f}")
    Console().print(t)


if __name__ == "__main__":
    main()
