"""Replay waves of kept runs from their checkpoints, exactly, under other walker YAMLs: paired A/B.

    python -m eval.bench replay RUNS --skill step_back [--locomotion walker:A.yaml ...] [--jobs 16]
    python -m eval.bench replay RUNS --skill s16_hold_catalyst_cup ...   # one plan step's waves

RUNS is a folder of run records (``tandem run`` keeps them under runs/; ``eval.bench e2e --runs DIR``
keeps one per seed). Each wave that dispatched ``--skill`` is run again from the checkpoint before it
(the simulator snapshot, the plan and the steps already done), as the run ran it, under the run's own
locomotion and under each ``--locomotion`` given. With the code that made the run, the run's own column
reproduces every recorded outcome (a restored snapshot steps exactly as the run did); the others differ
only by what the variant changed, on the same starting states: the walks are chaotic, so a paired
comparison shows what rates over a few dozen fresh seeds cannot.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agent.records import read_events
from agent.session import CHECKPOINTS, META, RunConfig
from envs.locomotion import PolicyError, load_policy_config, parse_locomotion
from planner.schema import Plan

OWN = "as run"


def wave_starts(run: Path) -> list[dict]:
    """The states an ``execute`` node started from, in order: snapshot (None: the reset), plan, done."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    starts: dict[tuple, dict] = {}
    with sqlite3.connect(run / CHECKPOINTS) as conn:
        for ck in SqliteSaver(conn).list({"configurable": {"thread_id": run.name}}):
            cv = ck.checkpoint["channel_values"]
            if not cv.get("plan") or cv.get("status") not in (None, "running"):
                continue
            snap = cv.get("snapshot")
            key = (snap["time"] if snap else -1.0, tuple(sorted(cv.get("done", []))), cv.get("plan_version"))
            starts[key] = {"snapshot": snap, "plan": cv["plan"], "done": sorted(cv.get("done", []))}
    return [starts[k] for k in sorted(starts)]


def ready_steps(start: dict) -> list[dict]:
    done = set(start["done"])
    return [
        s
        for s in start["plan"]["steps"]
        if s["id"] not in done and all(d in done for d in s.get("after", []))
    ]


def replay_wave(job: tuple[str, int, str | None]) -> dict:
    """Run one wave again: (run folder, index into ``wave_starts``, locomotion or None for the run's)."""
    from agent.system_one import SystemOne
    from envs.registry import make_scene
    from skills.policies.manipulation import resolve

    run, index, locomotion = Path(job[0]), job[1], job[2]
    cfg = RunConfig(**json.loads((run / META).read_text()))
    start = wave_starts(run)[index]
    env = make_scene(cfg.scene, seed=cfg.seed, locomotion=locomotion or cfg.locomotion)
    try:
        env.reset(seed=cfg.seed)
        if start["snapshot"]:
            env.restore(start["snapshot"])
        t0 = env.data.time
        wave = SystemOne(env, manipulation=resolve(cfg.manipulation)).run_wave(
            Plan.model_validate(start["plan"]), set(start["done"])
        )
        return {
            "outcomes": {o["call_id"]: [o["status"], o["reason"]] for o in wave.outcomes},
            "sim_s": round(env.data.time - t0, 2),
            "robot": env.world_state().to_dict()["robot"],
        }
    finally:
        env.close()


def recorded(run: Path, start: dict) -> dict[str, list[str]]:
    """What the run recorded for the calls of the wave that began at ``start``."""
    t = start["snapshot"]["time"] if start["snapshot"] else 0.0
    ids = {s["id"] for s in ready_steps(start)}
    out = {}
    for e in read_events(run):
        if e.get("kind") == "outcome" and e["call_id"] in ids and abs(e["started_s"] - t) < 1e-3:
            out[e["call_id"]] = [e["status"], e["reason"]]
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m eval.bench replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", type=Path, help="a folder of run records (or one run record)")
    p.add_argument(
        "--skill", required=True, help="replay the waves that dispatched this skill (or plan step id)"
    )
    p.add_argument("--locomotion", action="append", default=[], help="walker[:PATH] to compare (repeatable)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes")
    p.add_argument("--json", type=Path, default=None, help="write every replayed wave here")
    args = p.parse_args(argv)

    for loc in args.locomotion:
        try:
            walker = parse_locomotion(loc)
            if walker.config is None:
                raise ValueError(f"{loc!r} has no walker to compare; give walker[:PATH]")
            load_policy_config(walker.config)
        except (ValueError, PolicyError) as e:
            p.error(f"--locomotion {loc}: {e}")
    if not args.runs.is_dir():
        p.error(f"{args.runs}: no such folder")
    runs = (
        [args.runs]
        if (args.runs / META).exists()
        else sorted(d for d in args.runs.iterdir() if (d / META).exists())
    )
    if not runs:
        p.error(f"{args.runs}: no run records (folders with {META})")
    waves = []
    for run in runs:
        for i, start in enumerate(wave_starts(run)):
            rec = recorded(run, start)  # empty for the state after the last wave: nothing ran from it
            if rec and any(args.skill in (s["skill"], s["id"]) for s in ready_steps(start)):
                waves.append((run, i, start["snapshot"]["time"] if start["snapshot"] else 0.0, rec))
    if not waves:
        p.error(f"no wave in {args.runs} dispatched '{args.skill}'")
    variants = [None, *args.locomotion]
    work = [(str(run), i, loc) for run, i, _, _ in waves for loc in variants]
    if args.jobs <= 1:
        results = [replay_wave(w) for w in work]
    else:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(args.jobs) as pool:
            results = pool.map(replay_wave, work, chunksize=1)

    names = [OWN, *(Path(loc.partition(":")[2]).stem or loc for loc in args.locomotion)]
    table = Table("run", "wave at s", "recorded", *names, title=f"waves with {args.skill}, replayed")
    ok = Counter()
    same = 0
    rows = []
    for k, (run, i, at, rec) in enumerate(waves):
        got = results[k * len(variants) : (k + 1) * len(variants)]
        same += got[0]["outcomes"] == rec
        cells = [_verdict(rec)] + [_verdict(g["outcomes"]) for g in got]
        for name, g in zip(names, got, strict=True):
            ok[name] += all(s == "success" for s, _ in g["outcomes"].values())
        table.add_row(run.name, f"{at:.1f}", *cells)
        rows.append(
            {"run": str(run), "wave": i, "recorded": rec, **{n: g for n, g in zip(names, got, strict=True)}}
        )
    table.add_row("succeeded", "", "", *(f"{ok[n]}/{len(waves)}" for n in names))
    Console(width=200).print(table)
    print(f"the run's own locomotion reproduced {same} of {len(waves)} waves' recorded outcomes")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def _verdict(outcomes: dict[str, list[str]]) -> str:
    bad = sorted({r for s, r in outcomes.values() if s != "success"})
    return "ok" if not bad else ", ".join(bad)


if __name__ == "__main__":
    main()
