"""Skill success over randomized seeds, judged by the runtime's monitors; median sim time per skill.

    python -m eval.bench skills [--seeds 50] [--skills pick,place,...] [--chains block,...] [--jobs 2]

Each seed runs a few chains through one Runtime each (a skill whose prerequisite failed is not tried):
shelf bottles are fetched with walk_to, carried to the bench under hold ∥ walk_to and poured into the
flask; the block goes to the yellow zone, the cylinder to a free spot, the flask back into its tray, the
peroxide back onto the shelf after its pour (as the toothpaste recipe does); the rest (look_at, hands,
step_back, turn_to, wait, wave) run from the bench.

Every place is also measured in the simulator, per target: the final offset of the object's centre from
the target's (a zone's or tray's centre, or the table spot the skill chose) once the chain is over, and
the release displacement: how far the object moved from the moment the fingers started to open until
then (the chain ends with home, so it is at rest).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

Step = tuple[str, str, dict[str, Any], list[str]]  # call id, skill, args, after


def _carry_and_pour(obj: str, hand: str, ml: float) -> list[Step]:
    pick = {"object": obj, "hand": hand}
    return [
        ("walk", "walk_to", {"station": "shelf"}, []),
        ("pick", "pick", pick, ["walk"]),
        ("hold", "hold", pick, ["pick"]),
        ("walk_back", "walk_to", {"station": "bench"}, ["pick"]),
        ("pour", "pour", {"source": obj, "target": "flask", "volume_ml": ml, "hand": hand}, ["walk_back"]),
        ("place", "place", {"object": obj, "location": "bench", "hand": hand}, ["pour"]),
        ("home", "home", {"arm": hand}, ["place"]),
    ]


def _pick_place(obj: str, hand: str, location: str) -> list[Step]:
    return [
        ("pick", "pick", {"object": obj, "hand": hand}, []),
        ("place", "place", {"object": obj, "location": location, "hand": hand}, ["pick"]),
        ("home", "home", {"arm": hand}, ["place"]),
    ]


def _pour_and_return(obj: str, hand: str, ml: float) -> list[Step]:
    """Fetch, pour at the bench, carry back and set down on the shelf again."""
    pick = {"object": obj, "hand": hand}
    calls = _carry_and_pour(obj, hand, ml)[:5]
    return [
        *calls,
        ("hold_back", "hold", pick, ["pour"]),
        ("walk_shelf", "walk_to", {"station": "shelf"}, ["pour"]),
        ("place", "place", {"object": obj, "location": "shelf", "hand": hand}, ["walk_shelf"]),
        ("home", "home", {"arm": hand}, ["place"]),
    ]


# name -> calls, run in order of submission through one Runtime from a fresh reset(seed)
CHAINS: dict[str, list[Step]] = {
    "peroxide": _carry_and_pour("hydrogen_peroxide_bottle", "right", 60.0),
    "shelf": _pour_and_return("hydrogen_peroxide_bottle", "right", 60.0),
    "soap": _carry_and_pour("soap_bottle", "left", 20.0),
    "catalyst": _carry_and_pour("catalyst_cup", "right", 40.0),
    "block": _pick_place("red_block", "right", "yellow_zone"),
    "cylinder": _pick_place("graduated_cylinder", "left", "bench"),
    "flask": _pick_place("flask", "left", "tray"),
    "misc": [
        ("look", "look_at", {"object": "graduated_cylinder"}, []),
        ("open", "open_hand", {"hand": "both"}, ["look"]),
        ("close", "close_hand", {"hand": "right"}, ["open"]),
        ("reopen", "open_hand", {"hand": "right"}, ["close"]),
        ("wave", "wave", {"arm": "left", "seconds": 2.0}, ["reopen"]),
        ("home", "home", {"arm": "both"}, ["wave"]),
        # Back away before turning: turning in place at a table sweeps the arms into its edge.
        ("back", "step_back", {"distance_m": 0.4}, ["home"]),
        ("turn", "turn_to", {"target": "graduated_cylinder"}, ["back"]),
        ("wait", "wait", {"seconds": 1.0}, ["turn"]),
        ("walk", "walk_to", {"station": "bench"}, ["wait"]),
    ],
}


@dataclass
class Result:
    chain: str
    seed: int
    # call_id, skill, status, reason, duration_s, evidence
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    max_arm_speed: float = 0.0
    peak_at: str = ""  # where max_arm_speed happened: joint, sim time, active calls
    error: str | None = None
    # one per place call that let go: target, offset_m, release_m, tilt_deg, speed (at the chain's end)
    placements: list[dict[str, Any]] = field(default_factory=list)


def run_chain(env, chain: str, seed: int) -> Result:
    """One chain from ``env.reset(seed)``; every decided call's outcome (skills not reached are absent)."""
    import numpy as np

    from agent.runtime import Runtime

    env.reset(seed)
    rt = Runtime(env)
    res = Result(chain, seed)
    groups = env.embodiment.groups
    arms = np.r_[groups["left_arm"].state_index, groups["right_arm"].state_index]
    joints = [*groups["left_arm"].joints, *groups["right_arm"].joints]

    def watch(r) -> None:
        speed = np.abs(r.obs.velocity[arms])
        j = int(speed.argmax())
        if speed[j] > res.max_arm_speed:
            res.max_arm_speed = float(speed[j])
            calls = ",".join(a.call.spec.name for a in r.dispatcher.active.values())
            res.peak_at = f"{joints[j]} at {r.world.time_s:.2f} s during {calls or 'nothing'}"

    letting_go: dict[str, dict[str, Any]] = {}  # place call id -> where it let go, from the simulator

    def release(r) -> None:
        for cid, a in r.dispatcher.active.items():
            at = getattr(a.executor, "release_at", None)
            if a.call.spec.name != "place" or cid in letting_go or at is None or r.world.time_s < at:
                continue
            obj, loc = a.call.raw_args["object"], a.call.raw_args["location"]
            letting_go[cid] = {
                "object": obj,
                "target": f"{obj} -> {loc}",
                "centre": list(a.executor.target_xy),
                "pos": list(r.world.objects[obj].pos),
            }

    rt.on_tick.append(watch)
    rt.on_tick.append(release)
    try:
        outs = rt.run_calls(CHAINS[chain])
    except Exception as e:  # a planning error (e.g. Unreachable) is that skill's failure
        outs = list(rt.outcomes)
        res.error = f"{type(e).__name__}: {e}"
        failing = next(
            (c for c in CHAINS[chain] if c[0] not in {o.call_id for o in outs} and c[0] in _started(rt)),
            None,
        )
        if failing is not None:
            res.outcomes.append(
                {
                    "call_id": failing[0],
                    "skill": failing[1],
                    "status": "failure",
                    "reason": type(e).__name__,
                    "duration_s": 0.0,
                    "evidence": {},
                }
            )
    del outs
    for p in letting_go.values():
        o = rt.world.objects[p["object"]]
        res.placements.append(
            {
                "target": p["target"],
                "offset_m": float(np.hypot(o.pos[0] - p["centre"][0], o.pos[1] - p["centre"][1])),
                "release_m": float(np.linalg.norm(np.subtract(o.pos, p["pos"]))),
                "tilt_deg": o.tilt_deg,
                "speed": o.speed,
            }
        )
    for o in rt.outcomes:
        res.outcomes.append(
            {
                "call_id": o.call_id,
                "skill": o.skill,
                "status": o.status,
                "reason": o.reason if o.status != "success" else "",
                "duration_s": round(o.sim_time_s - o.started_s, 3),
                "evidence": o.evidence,
            }
        )
    return res


def _started(rt) -> set[str]:
    d = rt.dispatcher
    return (
        set(d.active)
        | d.succeeded
        | d.failed
        | {c.id for c in d.pending if all(a in d.succeeded for a in c.after)}
    )


_ENV = None


def _work(job: tuple[str, int]) -> Result:
    global _ENV
    if _ENV is None:
        from envs.lab.env import G1LabEnv

        _ENV = G1LabEnv(seed=0, locomotion="holonomic")
    return run_chain(_ENV, *job)


def chains_for(skills: set[str] | None) -> list[str]:
    if not skills:
        return list(CHAINS)
    return [name for name, calls in CHAINS.items() if skills & {c[1] for c in calls}]


def main(argv: list[str] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    from envs.robots.g1.g1_constants import ARM_SPEED_LIMIT

    p = argparse.ArgumentParser(prog="python -m eval.bench skills", description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=50)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--skills", default="", help="comma-separated skills to report (default: all)")
    p.add_argument("--chains", default="", help="comma-separated chains to run (default: those needed)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="print every failure and every placement off target"
    )
    args = p.parse_args(argv)
    wanted = set(filter(None, args.skills.split(",")))
    names = args.chains.split(",") if args.chains else chains_for(wanted)
    jobs = [(c, s) for c in names for s in range(args.first_seed, args.first_seed + args.seeds)]
    wall = time.time()
    if args.jobs > 1:
        with mp.get_context("fork").Pool(args.jobs) as pool:
            results = pool.map(_work, jobs, chunksize=1)
    else:
        results = [_work(j) for j in jobs]
    wall = time.time() - wall

    tally: dict[str, list[dict[str, Any]]] = defaultdict(list)
    peak = max(results, key=lambda r: r.max_arm_speed)
    for r in results:
        for o in r.outcomes:
            tally[o["skill"]].append(o)
            if o["status"] != "success" and args.verbose:
                print(f"  {r.chain} seed {r.seed}: {o['skill']} {o['reason']} {o.get('evidence', '')}")
        if r.error and args.verbose:
            print(f"  {r.chain} seed {r.seed}: {r.error}")
        for pl in r.placements if args.verbose else []:
            if pl["offset_m"] > 0.02 or pl["release_m"] >= 0.005:
                print(
                    f"  {r.chain} seed {r.seed}: {pl['target']} {pl['offset_m'] * 100:.1f} cm off, "
                    f"moved {pl['release_m'] * 1000:.1f} mm on release"
                )
        if r.max_arm_speed > ARM_SPEED_LIMIT and args.verbose:
            print(f"  {r.chain} seed {r.seed}: arm joint at {r.max_arm_speed:.2f} rad/s, {r.peak_at}")

    t = Table(
        title=f"skills over seeds {args.first_seed}..{args.first_seed + args.seeds - 1}, judged by monitors"
    )
    for col in ("skill", "ok / trials", "rate", "median sim s", "failures"):
        t.add_column(col, justify="right" if col in ("ok / trials", "rate", "median sim s") else "left")
    for skill in sorted(tally):
        if wanted and skill not in wanted:
            continue
        outs = tally[skill]
        ok = [o for o in outs if o["status"] == "success"]
        reasons = Counter(o["reason"] for o in outs if o["status"] != "success")
        med = statistics.median(o["duration_s"] for o in ok) if ok else float("nan")
        t.add_row(
            skill,
            f"{len(ok)}/{len(outs)}",
            f"{len(ok) / len(outs):.0%}",
            f"{med:.2f}",
            ", ".join(f"{k} x{v}" for k, v in reasons.most_common()),
        )
    console = Console(width=150)
    console.print(t)
    placed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        for p in r.placements:
            placed[p["target"]].append(p)
    if placed:
        console.print(placement_table(placed))
    console.print(
        f"chains: {', '.join(names)}; peak arm joint speed {peak.max_arm_speed:.2f} rad/s "
        f"(limit {ARM_SPEED_LIMIT}) "
        f"({peak.chain} seed {peak.seed}: {peak.peak_at}); "
        f"{len(jobs)} runs in {wall:.0f} s wall ({args.jobs} processes)"
    )
    console.print("python -m eval.bench skills " + " ".join(argv if argv is not None else sys.argv[1:]))


def _pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation between order statistics."""
    v = sorted(values)
    k = (len(v) - 1) * q
    lo = int(k)
    return v[lo] + (v[min(lo + 1, len(v) - 1)] - v[lo]) * (k - lo)


def placement_table(placed: dict[str, list[dict[str, Any]]]):
    from rich.table import Table

    t = Table(title="placements, read from the simulator at the end of each chain")
    for col in (
        "object -> target",
        "n",
        "offset cm median / p95 / max",
        "<= 2 cm",
        "release mm median / p95 / max",
        "< 5 mm",
        "max tilt deg",
    ):
        t.add_column(col, justify="left" if col.startswith("object") else "right")
    for target in sorted(placed):
        ps = placed[target]
        off = [p["offset_m"] * 100 for p in ps]
        rel = [p["release_m"] * 1000 for p in ps]
        t.add_row(
            target,
            str(len(ps)),
            f"{statistics.median(off):.2f} / {_pct(off, 0.95):.2f} / {max(off):.2f}",
            f"{sum(o <= 2.0 for o in off) / len(off):.0%}",
            f"{statistics.median(rel):.1f} / {_pct(rel, 0.95):.1f} / {max(rel):.1f}",
            f"{sum(r < 5.0 for r in rel) / len(rel):.0%}",
            f"{max(p['tilt_deg'] for p in ps):.1f}",
        )
    return t


if __name__ == "__main__":
    main()
