"""Simulator speed: physics steps/s, env.step overhead over raw mj_step, render frames/s per camera.

    python -m eval.bench sim [--repeats 5] [--frames 15]

Medians over repeats (shared machines are noisy). Render rates come two ways: frames per wall
second, and frames per CPU second of this process, which is what one dedicated core would give
(with LP_NUM_THREADS=0 llvmpipe renders in the calling thread) and barely moves with other load.
"""

from __future__ import annotations

import argparse
import copy
import functools
import os
import statistics
import time
from collections.abc import Callable

import mujoco
from rich.console import Console
from rich.table import Table

CAMERAS = ("ego_view", "third_person")
SIZE = 224
STEP_RATIO_TARGET = 1.3
EGO_FPS_TARGET = 30.0


def _rates(work: Callable[[], None], n: int, repeats: int) -> tuple[float, float]:
    """Median of n / wall seconds and of n / CPU seconds over repeats."""
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            work()
        wall.append(n / (time.perf_counter() - w))
        cpu.append(n / max(time.process_time() - c, 1e-9))
    return statistics.median(wall), statistics.median(cpu)


def physics(env, steps: int, repeats: int) -> float:
    m, d = env.model, copy.copy(env.data)
    return _rates(lambda: mujoco.mj_step(m, d), steps, repeats)[0]


def step_overhead(env, ticks: int, repeats: int) -> tuple[float, float]:
    """Median µs per control tick of env.step (holding the pose) and of the raw mj_step it makes."""
    obs = env.observation()
    hold = {name: obs.state[g.state_index] for name, g in env.embodiment.groups.items()}
    m, d, n = env.model, copy.copy(env.data), env.n_substeps
    env_us, raw_us = [], []
    for _ in range(repeats):  # interleaved, so a noisy moment hits both
        env_us.append(1e6 / _rates(lambda: env.step(hold), ticks, 1)[0])
        raw_us.append(1e6 / _rates(lambda: mujoco.mj_step(m, d, nstep=n), ticks, 1)[0])
    return statistics.median(env_us), statistics.median(raw_us)


def render_rates(env, frames: int, repeats: int, antialias: bool = False) -> dict[str, tuple[float, float]]:
    out = {}
    for cam in CAMERAS:
        env.render(cam, SIZE, SIZE, antialias=antialias)  # make the renderer outside the timing
        frame = functools.partial(env.render, cam, SIZE, SIZE, antialias=antialias)
        out[cam] = _rates(frame, frames, repeats)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m eval.bench sim", description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per figure (median reported)")
    p.add_argument("--frames", type=int, default=15, help="frames per render repeat")
    p.add_argument("--steps", type=int, default=2000, help="mj_step calls per physics repeat")
    p.add_argument("--ticks", type=int, default=50, help="control ticks per env.step repeat")
    args = p.parse_args(argv)

    from envs.lab.env import G1LabEnv
    from envs.rendering import lp_num_threads

    console = Console()
    t0 = time.perf_counter()
    env = G1LabEnv(seed=0, locomotion="holonomic")
    steps_s = physics(env, args.steps, args.repeats)
    env_us, raw_us = step_overhead(env, args.ticks, args.repeats)
    renders = {("decimated", False): render_rates(env, args.frames, args.repeats)}
    renders[("decimated", True)] = render_rates(env, args.frames, args.repeats, antialias=True)
    env.close()
    full = G1LabEnv(seed=0, mesh_quality="full", locomotion="holonomic")
    renders[("full", False)] = render_rates(full, max(3, args.frames // 3), args.repeats)
    full.close()

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    console.print(
        f"[bold]g1_lab[/] (G1 + Dex3 hands, holonomic base), MuJoCo {mujoco.__version__}, {cores} CPU cores, "
        f"MUJOCO_GL={os.environ.get('MUJOCO_GL', '(default)')}, LP_NUM_THREADS={lp_num_threads()}"
    )
    t = Table("physics", "value", "note")
    dt = env.model.opt.timestep
    t.add_row("raw mj_step loop", f"{steps_s:,.0f} steps/s", f"{steps_s * dt:.0f}x real time")
    ratio = env_us / raw_us
    t.add_row(
        "env.step per tick",
        f"{env_us:,.0f} µs",
        f"{ratio:.2f}x raw mj_step(nstep={env.n_substeps}) = {raw_us:,.0f} µs "
        f"(target <= {STEP_RATIO_TARGET}x: {'ok' if ratio <= STEP_RATIO_TARGET else 'over'})",
    )
    console.print(t)
    t = Table("camera", "meshes", "4x MSAA", "frames/s", "per CPU-s", "note", title=f"render {SIZE}x{SIZE}")
    for (quality, aa), rates in renders.items():
        for cam, (wall, cpu) in rates.items():
            note = ""
            if cam == "ego_view" and quality == "decimated" and not aa:
                ok = "ok" if cpu >= EGO_FPS_TARGET else "under"
                note = f"target >= {EGO_FPS_TARGET:.0f} on one core: {ok}"
            t.add_row(cam, quality, "on" if aa else "off", f"{wall:.0f}", f"{cpu:.0f}", note)
    console.print(t)
    console.print(f"[dim]medians of {args.repeats} repeats; {time.perf_counter() - t0:.0f} s in all[/]")


if __name__ == "__main__":
    main()
