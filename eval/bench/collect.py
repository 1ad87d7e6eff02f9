"""Demonstration collection speed: episodes/min of the block task, sim-to-wall ratio with and without
recording, bytes per episode, and the projected time of the 14-episode and a 1,000-episode set.

    python -m eval.bench collect [--episodes 1] [--image-size 224] [--fps 20] [--cameras ego_view,...]
                                 [--workers 1,2] [--task block_to_zone]
    python -m eval.bench collect --task so100_block --cameras front,wrist    # the SO-100 arm

Recording costs what rendering costs (one frame per camera per recorded frame) plus H.264 encoding; the
simulation and the expert are the same run either way. Worker counts above the machine's free cores
measure contention, not scaling.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _expert_only(task_name: str, seeds: list[int]) -> list[tuple[float, float, float]]:
    """(sim_s, wall_s, cpu_s) of the expert through the Runtime, nothing recorded, same perturbations."""
    from agent.runtime import Runtime
    from eval.datasets.episode import env_for, perturbations_for, reset, run_scripted
    from skills.controllers.variation import expert_variation
    from skills.tasks import load_task
    from skills.tasks.sampling import expert_of

    task = load_task(task_name)
    e = env_for(task)
    out = []
    for seed in seeds:
        p = perturbations_for(e, task, seed, True, False)
        obs = reset(e, seed, p)
        if task.expert is not None:  # a scripted whole-task expert (SO-100): no Runtime
            world = e.env.world_state()
            t0, c0 = time.perf_counter(), time.process_time()
            world, _ = run_scripted(task, e.env, obs, world)
            out.append((world.time_s, time.perf_counter() - t0, time.process_time() - c0))
            continue
        rt = Runtime(e.env)
        t0, c0 = time.perf_counter(), time.process_time()
        with expert_variation(expert_of(p)):
            prev: list[str] = []
            for i, call in enumerate(task.calls):
                rt.call(str(i), call.skill, call.args, after=prev)
                prev = [str(i)]
            rt.run_until_event(max_sim_s=task.max_sim_s)
        out.append((rt.world.time_s, time.perf_counter() - t0, time.process_time() - c0))
    return out


def _recorded(task_name: str, seeds: list[int], opts, tmp: Path) -> list[tuple[float, float, float, float]]:
    """(sim_s, wall_s, render_s, cpu_s) of the same episodes recorded in this process."""
    from eval.datasets.episode import record_episode

    out = []
    for seed in seeds:
        c0 = time.process_time()
        r = record_episode(
            task_name, seed, fps=opts.fps, image_size=opts.image_size, cameras=list(opts.cameras),
            video_dir=tmp,
        )  # fmt: skip
        out.append((r.sim_s, r.wall_s, r.render_s, time.process_time() - c0))
    return out


def _dir_bytes(root: Path, sub: str) -> int:
    return sum(p.stat().st_size for p in (root / sub).rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    from eval.datasets.collect import CollectOptions, collect

    ap = argparse.ArgumentParser(prog="python -m eval.bench collect", description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="block_to_zone")
    ap.add_argument("--episodes", type=int, default=1, help="episodes per worker (and for the ratios)")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--fps", type=int, default=20)
    ap.add_argument("--cameras", default="ego_view", help="each wrist camera adds one render per frame")
    ap.add_argument("--workers", default="1,2")
    a = ap.parse_args(argv)
    opts = CollectOptions(fps=a.fps, image_size=a.image_size, cameras=tuple(a.cameras.split(",")))
    seeds = list(range(a.episodes))
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plain = _expert_only(a.task, seeds)
        rec = _recorded(a.task, seeds, opts, tmp)
        ratio_plain = statistics.median(s / w for s, w, _ in plain)
        ratio_rec = statistics.median(s / w for s, w, _, _ in rec)
        cpu_plain = statistics.median(s / c for s, _, c in plain)
        cpu_rec = statistics.median(s / c for s, _, _, c in rec)
        cpu_per_ep = statistics.median(c for *_, c in rec)
        render_share = statistics.median(r / w for _, w, r, _ in rec)
        rates = {}
        sizes = []
        for w in (int(x) for x in a.workers.split(",")):
            out = tmp / f"ds-{w}"
            s = collect([a.task], a.episodes * w, out, opts, seed=100, workers=w, progress=False)
            rates[w] = s.episodes / (s.wall_s / 60)
            data, videos = _dir_bytes(out, "data"), _dir_bytes(out, "videos")
            sizes.append(((data + videos) / s.total_episodes, data / s.total_episodes, s.sim_s / s.attempted))
    t = Table(
        "measure", "value", title=f"collect: {a.task}, {a.image_size} px, {a.fps} fps, cameras {a.cameras}"
    )
    t.add_row("expert sim/wall, not recorded (median)", f"{ratio_plain:.2f}x real time")
    t.add_row("expert sim/wall, recorded (median)", f"{ratio_rec:.2f}x real time")
    t.add_row("slowdown from recording (wall)", f"{ratio_plain / ratio_rec:.2f}x")
    t.add_row("expert sim s per CPU-s, not recorded", f"{cpu_plain:.2f}")
    t.add_row("expert sim s per CPU-s, recorded", f"{cpu_rec:.2f}")
    t.add_row(
        "slowdown from recording (CPU)",
        f"{cpu_plain / cpu_rec:.2f}x (rendering {render_share:.0%} of the wall)",
    )
    t.add_row("CPU-s per recorded episode", f"{cpu_per_ep:.1f}")
    for w, r in rates.items():
        t.add_row(f"episodes/min, {w} worker(s)", f"{r:.2f}")
    per_ep = statistics.median(x[0] for x in sizes)
    t.add_row(
        "bytes per episode (parquet + videos)",
        f"{per_ep / 1e6:.2f} MB (parquet {statistics.median(x[1] for x in sizes) / 1e3:.0f} kB)",
    )
    t.add_row("sim seconds per episode", f"{statistics.median(x[2] for x in sizes):.1f}")
    best = max(rates.values())
    for n in (14, 1000):
        t.add_row(
            f"projected time, {n} episodes",
            f"{n / best:.0f} min at {best:.2f} ep/min ({n * per_ep / 1e9:.2f} GB)",
        )
        for cores in (2, 16):  # one worker per idle core, from the CPU cost of an episode
            t.add_row(f"  on {cores} idle cores", f"{n * cpu_per_ep / cores / 60:.0f} min")
    console.print(t)
