"""The eval runner: the episode matrix in parallel worker processes, results in SQLite, resumable.

Each worker process (``spawn``) builds its env once per scene and reuses it with ``env.reset(seed)``
through ``RunSession(env=...)``. The parent hands out one episode at a time, bounds its wall time
(an overdue worker is killed and replaced; the episode is recorded as ``timeout``), records a crashed
episode as ``error`` with its traceback and goes on. Rows are written by the parent only, one committed
row per finished episode, so a killed eval resumes from the same results directory without rerunning
what finished. Every episode keeps its run record under ``RESULTS/runs/RUN_ID``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from eval.process_pool import supervise, watch_parent
from eval.suite import Episode

DB = "results.sqlite"
RUNS = "runs"
DEFAULT_TASK_SIM_S = 60.0  # a whole-task episode whose case names no max_sim_s (TaskSpec's default)
SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    suite TEXT NOT NULL, case_id TEXT NOT NULL, planner TEXT NOT NULL, prompt TEXT NOT NULL,
    model TEXT NOT NULL, seed INTEGER NOT NULL,
    scene TEXT, goal TEXT, faults TEXT, variant TEXT,
    status TEXT NOT NULL, success INTEGER, metrics TEXT, run_id TEXT, error TEXT,
    wall_s REAL, timing TEXT, backend TEXT, finished_at REAL,
    PRIMARY KEY (suite, case_id, planner, prompt, model, seed)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


# -- results database ---------------------------------------------------------------------------------
class Results:
    """results.sqlite: one row per finished episode (ok, error or timeout), keyed by the matrix cell."""

    def __init__(self, out: Path) -> None:
        self.dir = Path(out)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / DB
        self.conn = sqlite3.connect(self.path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.executescript(SCHEMA)

    @classmethod
    def open_existing(cls, path: str | Path) -> Results:
        p = Path(path)
        db = p if p.suffix == ".sqlite" else p / DB
        if not db.exists():
            raise FileNotFoundError(f"no results database {db}")
        r = cls.__new__(cls)
        r.dir, r.path = db.parent, db
        r.conn = sqlite3.connect(db)
        return r

    def done_keys(self, include_errors: bool = True) -> set[tuple]:
        q = "SELECT suite, case_id, planner, prompt, model, seed FROM episodes"
        if not include_errors:
            q += " WHERE status = 'ok'"
        return {tuple(r) for r in self.conn.execute(q)}

    def put(self, ep: Episode, result: dict[str, Any], backend: str) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO episodes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                *ep.key,
                ep.scene,
                ep.goal,
                json.dumps(list(ep.faults)),
                ep.variant,
                result["status"],
                None if result.get("success") is None else int(bool(result["success"])),
                json.dumps(result.get("metrics") or {}, default=str),
                result.get("run_id"),
                result.get("error"),
                result.get("wall_s"),
                json.dumps(result.get("timing") or {}),
                backend,
                time.time(),
            ),
        )
        self.conn.commit()

    def set_meta(self, key: str, value: Any) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
        self.conn.commit()

    def rows(self) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT * FROM episodes ORDER BY suite, case_id, planner, prompt, model, seed"
        )
        names = [d[0] for d in cur.description]
        out = []
        for values in cur:
            row = dict(zip(names, values, strict=True))
            row["metrics"] = json.loads(row["metrics"] or "{}")
            row["timing"] = json.loads(row["timing"] or "{}")
            row["faults"] = json.loads(row["faults"] or "[]")
            row["success"] = None if row["success"] is None else bool(row["success"])
            out.append(row)
        return out

    def close(self) -> None:
        self.conn.close()


# -- one episode, in a worker -------------------------------------------------------------------------
_ENVS: dict[tuple[str, str], Any] = {}


def _env(scene: str, seed: int, locomotion: str = ""):
    env = _ENVS.get((scene, locomotion))
    if env is None:
        from envs.registry import make_scene

        env = _ENVS[scene, locomotion] = make_scene(scene, seed=seed, locomotion=locomotion or None)
    return env


def _drop_env(scene: str, locomotion: str = "") -> None:
    env = _ENVS.pop((scene, locomotion), None)
    if env is not None:
        with contextlib.suppress(Exception):
            env.close()


def _plain(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    if tolist is not None:
        return tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


class WorldLog:
    """A session listener writing the world state at each plan and after each execute wave (worlds.jsonl),
    for per-wave chain scoring and failure attribution."""

    def __init__(self, session) -> None:
        from eval.metrics import WORLDS

        self.env = session.env
        self.file = (session.record.dir / WORLDS).open("a", encoding="utf-8")
        self.version = 0

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "plan":
            self.version = data.get("version", self.version + 1)
            self._write({"at": "plan", "version": self.version})
        elif kind == "node" and data.get("node") == "execute":
            self._write({"at": "wave", "version": self.version})

    def _write(self, entry: dict[str, Any]) -> None:
        world = self.env.world_state().to_dict()
        self.file.write(json.dumps({**entry, "world": world}, default=_plain) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def execute(ep_dict: dict[str, Any], runs_dir: str) -> dict[str, Any]:
    """Run one episode in this process (env reused per scene) and compute its metrics from its record.
    Never raises: a crash comes back as status ``error`` with the traceback."""
    from agent.session import RunConfig, RunSession, plannable
    from eval.metrics import episode_metrics
    from eval.trajectory import TrajectoryLog

    t0 = time.perf_counter()
    ep = Episode.from_dict(ep_dict)
    run_dir = Path(runs_dir) / ep.run_id
    timing: dict[str, float] = {}
    result: dict[str, Any] = {"run_id": ep.run_id, "worker": os.getpid()}
    stage = "setup"
    try:
        if run_dir.exists():  # a rerun of an episode that was cut off: start its record afresh
            shutil.rmtree(run_dir)
        env = _env(ep.scene, ep.seed, ep.locomotion)
        if not plannable(ep.scene):
            stage = "run"
            timing["session_init_s"] = 0.0  # no planner session: the run starts at the env's reset
            timing["run_s"] = _run_whole_task(ep, env, Path(runs_dir))
            stage = "metrics"
            metrics = episode_metrics(ep.case, run_dir)
            result.update(status="ok", success=metrics["success"], metrics=metrics)
            return _timed(result, timing, t0)
        cfg = RunConfig(
            goal=ep.goal,
            scene=ep.scene,
            seed=ep.seed,
            faults=list(ep.faults),
            planner=ep.planner,
            planner_options=ep.planner_options(),
            manipulation=ep.manipulation,
            locomotion=ep.locomotion or None,
            **({"max_step_retries": 0, "max_replans": 0} if ep.one_attempt else {}),
        )
        t_init = time.perf_counter()
        session = RunSession(cfg, run_id=ep.run_id, root=Path(runs_dir), env=env)
        log = WorldLog(session)
        session.listeners.append(log)
        traj = TrajectoryLog(env, ep.trajectory_hz) if ep.trajectory_hz > 0 else None
        if traj is not None:
            session.system_one.on_tick.append(traj)
        t_run, cpu_run = time.perf_counter(), time.process_time()
        timing["session_init_s"] = t_run - t_init
        stage = "run"
        try:
            session.run()
        finally:
            timing["run_s"] = time.perf_counter() - t_run
            timing["run_cpu_s"] = time.process_time() - cpu_run  # > run_s: more than one core busy
            session.close()
            log.close()
            if traj is not None:
                traj.save(run_dir)
        stage = "metrics"
        t_m = time.perf_counter()
        metrics = episode_metrics(ep.case, run_dir)
        timing["metrics_s"] = time.perf_counter() - t_m
        result.update(status="ok", success=metrics["success"], metrics=metrics)
    except Exception:
        result.update(status="error", success=None, metrics={"stage": stage}, error=traceback.format_exc())
        if stage != "metrics":
            _drop_env(ep.scene, ep.locomotion)  # a crash mid-run may leave the simulator in any state
    return _timed(result, timing, t0)


def _timed(result: dict[str, Any], timing: dict[str, float], t0: float) -> dict[str, Any]:
    timing["worker_s"] = time.perf_counter() - t0
    result["timing"] = timing
    result["wall_s"] = round(timing["worker_s"], 3)
    return result


def _run_whole_task(ep: Episode, env, runs_dir: Path) -> float:
    """An episode on a robot without a skill library: the policy runs the whole task (agent/task_run.py);
    returns its wall seconds."""
    from agent.records import RunRecord
    from agent.task_run import TaskRun, run_task
    from eval.trajectory import TrajectoryLog

    run = TaskRun(
        goal=ep.goal,
        scene=ep.scene,
        seed=ep.seed,
        success=[(name, dict(params)) for name, params in ep.case.get("success", [])],
        max_sim_s=float(ep.case.get("max_sim_s", DEFAULT_TASK_SIM_S)),
        manipulation=ep.manipulation,
    )
    record = RunRecord(ep.run_id, runs_dir)
    traj = TrajectoryLog(env, ep.trajectory_hz) if ep.trajectory_hz > 0 else None
    on_tick = None if traj is None else lambda _ticks, obs, world: traj.sample(obs, world)
    t = time.perf_counter()
    try:
        run_task(run, env, record, on_tick)
    finally:
        record.close()
        if traj is not None:
            traj.save(record.dir)
    return time.perf_counter() - t


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TORCH_NUM_THREADS")


def single_threaded() -> None:
    """One compute thread per worker: N workers on N cores, not N x N threads fighting (torch's sentence
    model in the offline matcher would otherwise take every core in every worker)."""
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def warm_up(planners: Iterable[str], scenes: Iterable[tuple[tuple[str, str], int]] = ()) -> None:
    """Load what every episode needs once per process: imports, the offline matcher's sentence model,
    the env of each scene. Runs before the worker reports ready, so it is not billed to an episode."""
    import agent.session  # noqa: F401
    import envs.lab.env  # noqa: F401

    single_threaded()
    if "offline" in planners:
        from skills.sentences import warm_up as load_sentence_encoder

        load_sentence_encoder()
    for (scene, locomotion), seed in scenes:
        # A scene that fails to build: its episodes will report the error with its traceback.
        with contextlib.suppress(Exception):
            _env(scene, seed, locomotion)


def worker_main(conn, parent_pid: int, runs_dir: str, planners: list[str], scenes: list) -> None:
    watch_parent(parent_pid)
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")
    try:
        try:
            warm_up(planners, scenes)
        except Exception:
            conn.send(("fatal", traceback.format_exc()))
            return
        conn.send(("ready", os.getpid()))
        while True:
            try:
                msg = conn.recv()
            except EOFError:
                return
            if msg is None:
                return
            conn.send(("result", execute(msg, runs_dir)))
    except (BrokenPipeError, KeyboardInterrupt):
        return


def _lost(ep: Episode, status: str, error: str, wall_s: float) -> dict[str, Any]:
    """The result of an episode whose worker was killed or died: no metrics, the reason as the error."""
    return {
        "status": status,
        "success": None,
        "metrics": {},
        "run_id": ep.run_id,
        "error": error,
        "wall_s": round(wall_s, 3),
        "timing": {},
    }


OnResult = Callable[[Episode, dict[str, Any]], None]


class Gate(Protocol):
    """Episodes whose inputs are still being made (a policy still training): which may run now."""

    def ready(self, ep: Episode) -> bool: ...

    def waiting(self) -> bool:
        """Whether episodes not ready now may become ready (their producer is still at work)."""
        ...


def run_local(
    episodes: list[Episode], runs_dir: Path, workers: int, on_result: OnResult, gate: Gate | None = None
) -> None:
    """Run episodes on ``workers`` spawned processes; call ``on_result`` in this process for each. With a
    ``gate``, an episode is handed out once ready, in order among the ready ones; those never ready (their
    producer stopped) are left out."""
    scenes = {(e.scene, e.locomotion): e.seed for e in reversed(episodes)}
    warm = (sorted({e.planner for e in episodes}), sorted(scenes.items()))
    queue = deque(episodes)

    def next_episode() -> Episode | None:
        if gate is None:
            return queue.popleft() if queue else None
        for i, ep in enumerate(queue):
            if gate.ready(ep):
                del queue[i]
                return ep
        return None

    def done(ep: Episode, payload: dict[str, Any], wall_s: float) -> None:
        payload["timing"]["dispatch_s"] = wall_s
        on_result(ep, payload)

    def lost(ep: Episode, why: str, wall_s: float) -> bool:
        if why == "timeout":
            error = f"timeout: the episode ran past its wall-time budget of {ep.time_budget_s:g} s"
            on_result(ep, _lost(ep, "timeout", error, wall_s))
        else:
            on_result(ep, _lost(ep, "error", why, wall_s))
        return False  # an episode that killed its worker is recorded, not run again

    supervise(
        what="eval",
        target=worker_main,
        args=(str(runs_dir), *warm),
        workers=min(workers, len(queue)),
        next_job=next_episode,
        message=Episode.to_dict,
        on_result=done,
        on_lost=lost,
        budget=lambda ep: ep.time_budget_s,
        more=lambda: gate is not None and bool(queue) and gate.waiting(),
    )


# -- the whole eval -----------------------------------------------------------------------------------
def run_eval(
    episodes: list[Episode],
    out: Path,
    workers: int = 1,
    ray_address: str | None = None,
    rerun_errors: bool = False,
    progress: bool = True,
    suites: list[str] | None = None,
    gate: Gate | None = None,
) -> dict[str, Any]:
    """Run the episodes not yet in OUT/results.sqlite; returns counts and timings of this invocation.
    ``gate``: run each episode once it is ready (local workers only; see ``run_local``)."""
    if gate is not None and ray_address:
        raise ValueError("episodes gated on their inputs run on local workers, not on Ray")
    out = Path(out)
    results = Results(out)
    runs_dir = (out / RUNS).resolve()
    runs_dir.mkdir(parents=True, exist_ok=True)
    results.set_meta("runs_dir", RUNS)
    if suites:
        results.set_meta("suites", suites)
    done = results.done_keys(include_errors=not rerun_errors)
    todo = [e for e in episodes if e.key not in done]
    skipped = len(episodes) - len(todo)
    backend = "ray" if ray_address else "local"
    counts = {"ok": 0, "success": 0, "error": 0, "timeout": 0}
    overhead: list[dict[str, float]] = []
    t0 = time.perf_counter()

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    prog = Progress(
        TextColumn("[bold]eval[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        disable=not progress,
        transient=False,
    )
    task = prog.add_task("eval", total=len(todo), stats="")

    def on_result(ep: Episode, result: dict[str, Any]) -> None:
        t = time.perf_counter()
        results.put(ep, result, backend)
        timing = result.get("timing") or {}
        if "dispatch_s" in timing and "run_s" in timing:
            outside = timing["dispatch_s"] + (time.perf_counter() - t) - timing["run_s"]
            overhead.append({"outside_run_s": outside, "runner_s": outside - timing["session_init_s"]})
        counts[result["status"] if result["status"] in counts else "error"] += 1
        counts["success"] += bool(result.get("success"))
        prog.update(
            task,
            advance=1,
            stats=f"[green]{counts['success']} ok[/] [red]{counts['ok'] - counts['success']} failed[/] "
            f"[yellow]{counts['error'] + counts['timeout']} errors[/]",
        )

    with prog:
        if not todo:
            pass
        elif ray_address:
            from eval.ray_backend import run_ray

            run_ray(todo, runs_dir, workers, on_result, address=ray_address)
        else:
            run_local(todo, runs_dir, workers, on_result, gate)
    results.close()
    return {
        "episodes": len(episodes),
        "skipped": skipped,
        "ran": counts["ok"] + counts["error"] + counts["timeout"],
        **counts,
        "wall_s": time.perf_counter() - t0,
        "runner_overhead_s": overhead,
        "results": str(out / DB),
    }
