"""End to end: `tandem run "prepare elephant toothpaste"` over seeds, offline planner, no video.

    python -m eval.bench e2e [--seeds 10] [--first-seed 0] [--goal "prepare elephant toothpaste"]
                             [--locomotion walker] [--scene g1_lab] [--jobs 1] [--json rows.json]
                             [--runs DIR]

Per seed: success (reaction fired in the flask, from world state), sim time, wall time and their
ratio, planning time (understand + plan + validate nodes) and the graph's own overhead per executed
step (wall time outside planning and System 1's waves, divided by the steps run). Node durations
come from the run record's event timestamps.

Speed as a fraction of the physics ceiling: after each seed, raw mj_step is timed on a copy of the
final state (the same scene, robot and contacts); both rates are per CPU second of this process, which
barely moves with other load on a shared machine (wall-clock rates swing 2-3x from hour to hour).
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

PLANNING_NODES = {"understand", "plan", "validate"}
MANIPULATION = {"pick", "place", "pour", "home"}  # arm skills, for falls per 100 manipulation calls
CEILING_STEPS = 2000  # raw mj_step calls timed after each seed


def _node_times(events: list[dict]) -> dict[str, float]:
    """Seconds spent per node, from the gaps between consecutive node events."""
    out: dict[str, float] = {}
    last = next(e["wall_time"] for e in events if e["kind"] == "start")
    for e in events:
        if e["kind"] == "node":
            out[e["node"]] = out.get(e["node"], 0.0) + e["wall_time"] - last
            last = e["wall_time"]
    return out


def run_seeds(
    goal: str,
    seeds: list[int],
    locomotion: str | None = None,
    scene: str = "g1_lab",
    runs: Path | None = None,
) -> list[dict]:
    """One offline-planner run per seed in one env; a row of measurements per run. Run records go to
    ``runs`` (default: a temporary folder)."""
    import mujoco

    from agent.records import read_events
    from agent.session import RunConfig, RunSession
    from envs.lab.env import G1LabEnv
    from eval.bench.sim import _rates

    env = G1LabEnv(scene, seed=0, locomotion=locomotion)
    root = runs or Path(tempfile.mkdtemp(prefix="tandem-e2e-"))
    rows = []
    for seed in seeds:
        t0, c0 = time.perf_counter(), time.process_time()
        cfg = RunConfig(goal=goal, scene=scene, seed=seed, locomotion=locomotion)
        session = RunSession(cfg, root=root, env=env)
        s = session.run()
        session.close()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        m, d = env.model, copy.copy(env.data)
        ceiling = _rates(functools.partial(mujoco.mj_step, m, d), CEILING_STEPS, 1)[1] * m.opt.timestep
        nodes = _node_times(read_events(root / s["run_id"]))
        planning = sum(v for k, v in nodes.items() if k in PLANNING_NODES)
        steps = sum(1 for o in s["outcomes"])
        overhead = max(0.0, nodes.get("reflect", 0.0) + nodes.get("approve", 0.0))
        fired = any(r["container"] == "flask" for r in s["reactions"])
        moved = [o for o in s["outcomes"] if o["skill"] in MANIPULATION]
        rows.append(
            {
                "seed": seed,
                "ok": s["success"] and fired,
                "status": s["status"],
                "sim": s["sim_time_s"],
                "wall": wall,
                "of_ceiling": s["sim_time_s"] / cpu / ceiling,
                "ceiling": ceiling,
                "planning": planning,
                "overhead_per_step": overhead / max(steps, 1),
                "steps": steps,
                "spill": s["spilled_ml"],
                "retries": s["retries"],
                "replans": s["replans"],
                "fell": any(o["reason"] == "fell" for o in s["outcomes"]),
                # arm calls that moved (one planned unreachable never does), and those a fall ended
                "manipulation_calls": sum(m["reason"] != "unreachable" for m in moved),
                "manipulation_falls": sum(m["reason"] == "fell" for m in moved),
                "why": "" if s["success"] else s["message"][:60],
                "message": "" if s["success"] else s["message"],
                "run_id": s["run_id"],
                "outcomes": [_outcome_line(o) for o in s["outcomes"]],
            }
        )
        print(f"seed {seed}: {s['status']} sim {s['sim_time_s']:.1f} s wall {wall:.1f} s", flush=True)
    env.close()
    return rows


def _outcome_line(o: dict) -> str:
    """One call's outcome in a line: when it ended (sim s), id, status, reason and a short detail."""
    detail = (o.get("evidence") or {}).get("detail", "")
    return f"{o['sim_time_s']:.1f} {o['call_id']} {o['status']} {o['reason']} {detail}".rstrip()


def manipulation_falls(rows: list[dict]) -> str:
    """Falls per 100 manipulation calls over ``rows`` (the issue's robustness figure for legs)."""
    calls = sum(r["manipulation_calls"] for r in rows)
    falls = sum(r["manipulation_falls"] for r in rows)
    return f"falls in manipulation calls: {falls} in {calls} ({100 * falls / max(calls, 1):.1f} per 100)"


def run_parallel(
    goal: str,
    seeds: list[int],
    locomotion: str | None = None,
    jobs: int = 1,
    scene: str = "g1_lab",
    runs: Path | None = None,
) -> list[dict]:
    """``run_seeds`` with one seed per task on ``jobs`` forked processes (each loads its own embedding
    model, so planning times include that once per process)."""
    if jobs <= 1:
        return run_seeds(goal, seeds, locomotion, scene, runs)
    import multiprocessing as mp

    with mp.get_context("fork").Pool(jobs) as pool:
        parts = pool.starmap(run_seeds, [(goal, [s], locomotion, scene, runs) for s in seeds], chunksize=1)
    return [row for rows in parts for row in rows]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m eval.bench e2e", description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--goal", default="prepare elephant toothpaste")
    p.add_argument("--locomotion", default=None, help="holonomic or walker[:PATH] (default: the scene's)")
    p.add_argument("--scene", default="g1_lab", help="scene name or YAML path")
    p.add_argument("--jobs", type=int, default=1, help="worker processes, one seed each")
    p.add_argument("--json", type=Path, default=None, help="write every row here (with each call's outcome)")
    p.add_argument("--runs", type=Path, default=None, help="keep the run records here (default: a temp dir)")
    args = p.parse_args(argv)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    if args.runs:
        args.runs.mkdir(parents=True, exist_ok=True)
    rows = run_parallel(args.goal, seeds, args.locomotion, args.jobs, args.scene, args.runs)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))

    t = Table(
        "seed",
        "result",
        "sim s",
        "wall s",
        "sim/wall",
        "of ceiling",
        "planning s",
        "graph ms/step",
        "steps",
        "retries",
        "replans",
        "spill ml",
        "note",
        title=f'"{args.goal}", offline planner, no video',
    )
    for r in rows:
        t.add_row(
            str(r["seed"]),
            "[green]ok[/]" if r["ok"] else f"[red]{r['status']}[/]",
            f"{r['sim']:.1f}",
            f"{r['wall']:.1f}",
            f"{r['sim'] / r['wall']:.1f}x",
            f"{r['of_ceiling']:.2f}",
            f"{r['planning']:.2f}",
            f"{r['overhead_per_step'] * 1e3:.1f}",
            str(r["steps"]),
            str(r["retries"]),
            str(r["replans"]),
            f"{r['spill']:.1f}",
            r["why"],
        )
    keys = ("sim", "wall", "of_ceiling", "ceiling", "planning", "overhead_per_step")
    med = {k: statistics.median(r[k] for r in rows) for k in keys}
    t.add_row(
        "median",
        f"{sum(r['ok'] for r in rows)}/{len(rows)}",
        f"{med['sim']:.1f}",
        f"{med['wall']:.1f}",
        f"{med['sim'] / med['wall']:.1f}x",
        f"{med['of_ceiling']:.2f}",
        f"{med['planning']:.2f}",
        f"{med['overhead_per_step'] * 1e3:.1f}",
        "",
        "",
        "",
        "",
        "",
    )
    Console(width=200).print(t)
    print(manipulation_falls(rows))
    print("planning s includes loading the embedding model on the first seed")
    print(
        f"of ceiling: simulated s per CPU s of the run over raw mj_step's (median {med['ceiling']:.1f}x real "
        f"time per CPU s, timed after each seed on its final state); end to end at {med['of_ceiling']:.2f}"
    )


if __name__ == "__main__":
    main()
