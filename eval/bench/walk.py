"""The learned walker: velocity tracking, station reaching, falls, sim speed, toothpaste end to end.

    python -m eval.bench walk [--seconds 6] [--seeds 3] [--jobs 1] [--carry] [--e2e-seeds 0]
                              [--locomotion walker] [--command VX,VY,WZ ...] [--raw]

- tracking: the walker alone on open floor, one command per row (vx, vy, yaw rate) held ``--seconds``;
  the mean velocity measured from the pelvis over the last two thirds of it, and the error.
  ``--command VX,VY,WZ`` (repeatable) measures your own commands; with ``--raw`` they are what the
  policy sees (the YAML's ``bias`` is not added): how to find where a policy stands still.
- stations: bench -> shelf -> bench with walk_to on ``--seeds`` seeds through the runtime (monitors on;
  each seed but 0 starts a few cm and degrees off the bench's pose):
  the error to each working pose (on legs the walker's ``standoff_m`` behind the scene's) when the call
  ends, its sim time, the metres walked, falls per 100 m. With ``--carry`` it picks the peroxide at the
  shelf and walks back holding it: how many arrived with it in the hand, unspilled.
- story: the right arm through a pour on open floor, the lower body under walk gains, then stance
  gains (the fell monitor decides).
- speed: simulated seconds per CPU second of this process while walking (one core's worth).
- e2e: toothpaste with the walker and with the holonomic base on ``--e2e-seeds`` seeds (slow).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Sequence

import numpy as np
from rich.console import Console
from rich.table import Table

COMMANDS = (
    (0.3, 0.0, 0.0),
    (0.5, 0.0, 0.0),
    (-0.3, 0.0, 0.0),
    (0.0, 0.3, 0.0),
    (0.0, 0.0, 0.5),
    (0.0, 0.0, -0.5),
    (0.0, 0.0, 0.0),
)
OPEN_FLOOR = (-1.5, -1.5)
LOWER = ("left_leg", "right_leg", "waist")
CARRIED = ("hydrogen_peroxide_bottle", "right")  # what a carrying run picks at the shelf, with which hand


def _yaw(q: np.ndarray) -> float:
    return math.atan2(2 * (q[0] * q[3] + q[1] * q[2]), 1 - 2 * (q[2] ** 2 + q[3] ** 2))


def _to_open_floor(env) -> None:
    import mujoco

    env.data.qpos[0:2] = OPEN_FLOOR
    mujoco.mj_forward(env.model, env.data)


def tracking(
    env, seconds: float, commands: Sequence[Sequence[float]] = COMMANDS, raw: bool = False
) -> tuple[list[dict], float]:
    """Per command: measured (vx, vy, yaw rate) in the robot frame and whether it fell; and the
    simulated seconds per CPU second over all of it. ``raw``: the commands are what the policy sees
    (its bias is taken off before the walker adds it)."""
    rows, sim, cpu = [], 0.0, 0.0
    free = frozenset({"left_arm", "right_arm", "left_hand", "right_hand"})
    for cmd in commands:
        env.reset(seed=0)
        _to_open_floor(env)
        env.set_gains({g: "walk" for g in LOWER}, free=free)
        bias = env.walker.bias if raw else 0.0
        d = env.data
        n = round(seconds / env.control_dt)
        marks, fell = [], False
        c0, t0 = time.process_time(), d.time
        for k in range(n):
            env.step({"base": np.asarray(cmd) - bias})
            if k >= n // 3 and env.walker.mode == "walking":
                marks.append((d.time, d.qpos[0:2].copy(), _yaw(d.qpos[3:7])))
            r = env.world_state().robot
            if r.pelvis_height < 0.55 or r.pelvis_tilt_deg > 30:
                fell = True
                break
        cpu += time.process_time() - c0
        sim += d.time - t0
        if fell or len(marks) < 2:
            rows.append({"cmd": cmd, "fell": True, "v": (math.nan,) * 3})
            continue
        (ta, pa, ya), (tb, pb, yb) = marks[0], marks[-1]
        dt = tb - ta
        heading = (ya + yb) / 2  # mean heading over the window: robot-frame velocity
        vw = (pb - pa) / dt
        c, s = math.cos(heading), math.sin(heading)
        dyaw = math.atan2(math.sin(yb - ya), math.cos(yb - ya))  # under pi per window at these rates
        v = (c * vw[0] + s * vw[1], -s * vw[0] + c * vw[1], dyaw / dt)
        rows.append({"cmd": cmd, "fell": False, "v": v})
    return rows, sim / max(cpu, 1e-9)


def nudge_start(env, seed: int) -> None:
    """Seed 0 starts at the bench's working pose; another seed up to 3 cm back or sideways and 3 degrees
    off it (the seeds move only objects on the tables, so without this every walk would be the same run;
    never toward the table, where the knees already stand 1 cm from its face)."""
    import mujoco

    if seed == 0:
        return
    rng = np.random.default_rng(seed)
    back, side = rng.uniform(0.0, 0.03), rng.uniform(-0.03, 0.03)
    yaw0 = _yaw(env.data.qpos[3:7])
    c, s = math.cos(yaw0), math.sin(yaw0)
    env.data.qpos[0:2] += (-back * c - side * s, -back * s + side * c)
    yaw = yaw0 + math.radians(rng.uniform(-3.0, 3.0))
    env.data.qpos[3:7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
    mujoco.mj_forward(env.model, env.data)


def station_walks(job: tuple[str, int, str, bool]) -> list[dict]:
    """bench -> shelf -> bench on one seed (``job`` = (locomotion, seed, scene, carry)): the pose error at
    the end of each walk_to, its outcome, sim time and metres walked; the last row says how far the
    bench's objects moved. With ``carry`` the robot picks ``CARRIED`` at the shelf and holds it on the way
    back; the bench row says whether it arrived in the hand, unspilled."""
    from agent.runtime import Runtime
    from envs.lab.env import G1LabEnv

    locomotion, seed, scene, carry = job
    env = G1LabEnv(scene, seed=seed, locomotion=locomotion)
    nudge_start(env, seed)
    rt = Runtime(env)
    path = [0.0]
    last = [np.array(rt.world.robot.base_pose[:2])]

    def odometer(r, path=path, last=last) -> None:
        p = np.array(r.world.robot.base_pose[:2])
        path[0] += float(np.linalg.norm(p - last[0]))
        last[0] = p

    rt.on_tick.append(odometer)
    bench_before = {n: np.array(o.pos) for n, o in rt.world.objects.items() if o.station == "bench"}
    out = []
    obj, hand = CARRIED
    for i, station in enumerate(("shelf", "bench")):
        calls = [(f"w{i}", "walk_to", {"station": station}, [])]
        if carry and station == "bench":
            pick = rt.run_calls([("pick", "pick", {"object": obj, "hand": hand}, [])])[0]
            if pick.status != "success":  # no walk back: the bench row says why
                out.append(
                    {"seed": seed, "station": station, "status": f"pick {pick.reason}", "ok": False}
                    | {"pos_cm": math.nan, "yaw_deg": math.nan, "sim_s": 0.0, "metres": 0.0, "fell": False}
                )
                break
            calls.insert(0, ("hold", "hold", {"object": obj, "hand": hand}, []))
        t0 = rt.world.time_s
        outs = rt.run_calls(calls)
        x, y, yaw = rt.world.robot.base_pose
        gx, gy, gyaw = env.working_pose(station)
        o = next((o for o in outs if o.call_id == f"w{i}"), None)
        dyaw = yaw - math.radians(gyaw)
        out.append(
            {
                "seed": seed,
                "station": station,
                "status": o.reason if o else "?",
                "ok": bool(o and o.status == "success"),
                "pos_cm": 100 * math.hypot(x - gx, y - gy),
                "yaw_deg": abs(math.degrees(math.atan2(math.sin(dyaw), math.cos(dyaw)))),
                "sim_s": rt.world.time_s - t0,
                "metres": path[0],
                "fell": bool(o and o.reason == "fell"),
            }
        )
        if carry and station == "bench":
            held = env.holding()[hand] == obj and rt.world.spilled_ml == 0.0
            out[-1]["carried"] = out[-1]["ok"] and held
        path[0] = 0.0
        if rt.episode_over is not None:
            break
    moved = max(float(np.linalg.norm(np.array(rt.world.objects[n].pos) - p)) for n, p in bench_before.items())
    out[-1]["bench_moved_mm"] = 1000 * moved
    env.close()
    print(f"{locomotion} seed {seed}: " + ", ".join(f"{r['station']} {r['status']}" for r in out), flush=True)
    return out


def stations(
    seeds: int, locomotion: str = "walker", jobs: int = 1, scene: str = "g1_lab", carry: bool = False
) -> list[dict]:
    """``station_walks`` on seeds 0..seeds-1, on ``jobs`` processes."""
    work = [(locomotion, s, scene, carry) for s in range(seeds)]
    return [row for rows in run_jobs(work, jobs) for row in rows]


def run_jobs(work: list[tuple[str, int, str, bool]], jobs: int) -> list[list[dict]]:
    """``station_walks`` over (locomotion, seed, scene, carry), in order, on ``jobs`` forked processes."""
    if jobs <= 1:
        return [station_walks(w) for w in work]
    import multiprocessing as mp

    with mp.get_context("fork").Pool(jobs) as pool:
        return pool.map(station_walks, work, chunksize=1)


def story(env) -> dict[str, str]:
    from agent.monitors import Monitors

    res = {}
    for lower in ("walk", "stance"):
        env.reset(seed=0)
        _to_open_floor(env)
        env.gains.set({g: lower for g in LOWER}, instant=LOWER)
        mon = Monitors(env)
        arm = env.embodiment.groups["right_arm"]
        r0 = env.data.ctrl[arm.ctrl_index].copy()
        res[lower] = "stood 6 s"
        for k in range(round(6.0 / env.control_dt)):
            a = 0.5 * (1 - math.cos(2 * math.pi * 0.5 * k * env.control_dt))
            env.step({"right_arm": r0 + np.array([-1.0 * a, 0, 0, -0.6 * a, 1.2 * a, 0, 0])})
            v = mon.episode_failure(env.world_state())
            if v is not None:
                res[lower] = f"{v.reason} at {env.data.time:.2f} s"
                break
    return res


def _command(text: str) -> tuple[float, float, float]:
    try:
        vx, vy, wz = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a command is VX,VY,WZ (m/s, m/s, rad/s), got '{text}'") from None
    return (vx, vy, wz)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m eval.bench walk", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=6.0, help="per tracked command")
    p.add_argument("--seeds", type=int, default=3, help="bench -> shelf -> bench runs")
    p.add_argument("--jobs", type=int, default=1, help="worker processes for the station runs")
    p.add_argument("--carry", action="store_true", help="carry the peroxide from the shelf to the bench")
    p.add_argument("--e2e-seeds", type=int, default=0, help="toothpaste runs per locomotion (slow)")
    p.add_argument("--locomotion", default="walker", help="walker[:PATH] to measure")
    p.add_argument(
        "--command",
        action="append",
        type=_command,
        metavar="VX,VY,WZ",
        help="a command to track, e.g. --command=-0.3,0,0 (repeatable; default: a forward, backward, "
        "sideways and turning set)",
    )
    p.add_argument("--raw", action="store_true", help="commands as the policy sees them (no YAML bias)")
    args = p.parse_args(argv)

    from envs.lab.env import G1LabEnv

    console = Console(width=160)
    env = G1LabEnv(seed=0, locomotion=args.locomotion)
    rows, speed = tracking(env, args.seconds, args.command or COMMANDS, args.raw)
    t = Table(
        "raw command (vx, vy, yaw)" if args.raw else "command (vx, vy, yaw)",
        "measured",
        "error",
        title=f"velocity tracking, {args.seconds:g} s each",
    )
    for r in rows:
        if r["fell"]:
            t.add_row(str(r["cmd"]), "[red]fell[/]", "")
            continue
        err = np.array(r["v"]) - np.array(r["cmd"])
        t.add_row(
            str(r["cmd"]),
            "({:.2f}, {:.2f}, {:.2f})".format(*r["v"]),
            "({:+.2f}, {:+.2f}, {:+.2f})".format(*err),
        )
    console.print(t)
    console.print(f"sim speed while walking: {speed:.1f}x real time per CPU second (target >= 5x)")
    s = story(env)
    console.print(f"story: pour arm motion, walk gains -> {s['walk']}; stance gains -> {s['stance']}")
    env.close()

    if args.seeds:
        st = stations(args.seeds, args.locomotion, args.jobs, carry=args.carry)
        t = Table(
            "seed", "to", "result", "error cm", "error deg", "sim s", "m walked", title="walk_to on legs"
        )
        for r in st:
            t.add_row(
                str(r["seed"]),
                r["station"],
                "[green]ok[/]" if r["ok"] else f"[red]{r['status']}[/]",
                f"{r['pos_cm']:.1f}",
                f"{r['yaw_deg']:.1f}",
                f"{r['sim_s']:.1f}",
                f"{r['metres']:.1f}",
            )
        console.print(t)
        metres = sum(r["metres"] for r in st)
        falls = sum(r["fell"] for r in st)
        ok = [r for r in st if r["ok"]]
        console.print(
            f"{len(ok)}/{len(st)} reached; falls {falls} over {metres:.0f} m "
            f"({100 * falls / max(metres, 1e-9):.1f} per 100 m)"
            + (
                f"; median error {statistics.median(r['pos_cm'] for r in ok):.1f} cm, "
                f"{statistics.median(r['yaw_deg'] for r in ok):.1f} deg, "
                f"{statistics.median(r['sim_s'] for r in ok):.1f} s"
                if ok
                else ""
            )
            + (f"; carried {sum(r.get('carried', False) for r in st)}/{args.seeds}" if args.carry else "")
        )
    if args.e2e_seeds:
        from eval.bench.e2e import manipulation_falls, run_parallel

        seeds = list(range(args.e2e_seeds))
        for loco in ("holonomic", args.locomotion):
            rs = run_parallel("prepare elephant toothpaste", seeds, loco, args.jobs)
            fell = sum(r["fell"] for r in rs)
            ok = sum(r["ok"] for r in rs)
            console.print(f"toothpaste, {loco}: {ok}/{len(rs)} (falls {fell}); {manipulation_falls(rs)}")


if __name__ == "__main__":
    main()
