"""Eval runner throughput: lab_basics episodes per minute with 1 and 2 workers, and the runner's overhead.

    python -m eval.bench eval [--suite lab_basics] [--seeds 0-3] [--workers 1,2]

Throughput is counted from the first episode handed out to the last one stored (worker start-up, which
loads the sentence model and builds the env once per process, is shown apart). Overhead per episode is
the parent's time from handing an episode out to having its row committed, minus the worker's time inside
RunSession.run(); it is shown with and without RunSession construction (env.reset, planner, graph).
"cores used" is the workers' CPU time inside run() per second of the busy period, and "load avg" the
machine's 1-minute load: on a shared machine, other processes take cores the second worker needs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table


def _one(suite: str, seeds: list[int], workers: int) -> dict[str, float]:
    from eval.runner import Results, run_eval
    from eval.suite import expand, load_suite

    episodes = expand([load_suite(suite)], seeds=seeds)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        res = run_eval(episodes, Path(tmp) / "results", workers=workers, progress=False)
        rows = Results.open_existing(Path(tmp) / "results").rows()
    first = min(r["finished_at"] - r["timing"].get("dispatch_s", 0.0) for r in rows)
    last = max(r["finished_at"] for r in rows)
    over = res["runner_overhead_s"]
    return {
        "episodes": len(rows),
        "successes": sum(bool(r["success"]) for r in rows),
        "errors": sum(r["status"] != "ok" for r in rows),
        "startup_s": first - t0,
        "busy_s": last - first,
        "wall_s": res["wall_s"],
        "per_min": 60 * len(rows) / (last - first),
        "per_min_wall": 60 * len(rows) / res["wall_s"],
        "runner_ms": 1000 * statistics.median(o["runner_s"] for o in over),
        "runner_ms_max": 1000 * max(o["runner_s"] for o in over),
        "outside_run_ms": 1000 * statistics.median(o["outside_run_s"] for o in over),
        "run_s": statistics.median(r["timing"].get("run_s", 0.0) for r in rows),
        # CPU the workers spent inside run() per second of the busy period: 2.0 = both cores ours.
        "cores": sum(r["timing"].get("run_cpu_s", 0.0) for r in rows) / (last - first),
        "load": max(load0, os.getloadavg()[0]),
    }


def main(argv: list[str] | None = None) -> None:
    from eval.suite import parse_seeds

    p = argparse.ArgumentParser(prog="python -m eval.bench eval", description=__doc__.splitlines()[0])
    p.add_argument("--suite", default="lab_basics")
    p.add_argument("--seeds", default="0-3", help="seeds per case: 0,1,2 or 0-3")
    p.add_argument("--workers", default="1,2", help="worker counts to compare")
    args = p.parse_args(argv)
    seeds = parse_seeds([args.seeds])
    counts = [int(w) for w in args.workers.split(",")]
    res = {w: _one(args.suite, seeds or [0], w) for w in counts}
    t = Table(title=f"{args.suite}, seeds {args.seeds}: {res[counts[0]]['episodes']} episodes per run")
    t.add_column("workers", justify="right")
    for col in (
        "episodes/min",
        "incl. start-up",
        "start-up s",
        "ok / errors",
        "median run() s",
        "runner overhead ms (median / max)",
        "outside run() ms",
        "cores used",
        "load avg",
    ):
        t.add_column(col, justify="right")
    for w in counts:
        r = res[w]
        t.add_row(
            str(w),
            f"{r['per_min']:.1f}",
            f"{r['per_min_wall']:.1f}",
            f"{r['startup_s']:.1f}",
            f"{r['successes']} / {r['errors']}",
            f"{r['run_s']:.2f}",
            f"{r['runner_ms']:.1f} / {r['runner_ms_max']:.1f}",
            f"{r['outside_run_ms']:.0f}",
            f"{r['cores']:.2f}",
            f"{r['load']:.1f}",
        )
    console = Console(width=160)
    console.print(t)
    if len(counts) > 1:
        a, b = res[counts[0]], res[counts[-1]]
        console.print(
            f"scaling {counts[0]} -> {counts[-1]} workers: {b['per_min'] / a['per_min']:.2f}x "
            f"(incl. start-up {b['per_min_wall'] / a['per_min_wall']:.2f}x)"
        )


if __name__ == "__main__":
    main()
