"""``tandem collect``: the scripted expert over tasks and seeds, recorded into one dataset by workers.

Each task needs ``episodes`` kept episodes; seeds run ``seed, seed+1, ...`` per task until it has them
(failed episodes are dropped, or kept and marked with ``keep_failures``). Workers (spawned processes, one
env per scene each, as eval/runner.py runs eval episodes) record an episode and encode its videos under the
dataset's .tmp/; the parent alone commits episodes (eval/datasets/writer.py) and logs every attempt in
meta/tandem_collect.jsonl, so a rerun of the same command continues where an interrupted one stopped. A
worker that dies mid-episode is replaced and its episode run again.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.datasets.layout import DatasetLayout, layout_for_scene
from eval.datasets.writer import DatasetWriter, append_line, read_jsonl
from eval.process_pool import supervise, watch_parent

LOG = "meta/tandem_collect.jsonl"
MAX_ATTEMPTS_FACTOR = 3  # a task gives up after 3x its episodes (+5) attempts: its expert is broken
RETRIES = 1  # an episode whose worker died is run once more


@dataclass(frozen=True)
class CollectOptions:
    fps: int = 20
    image_size: int = 224
    cameras: tuple[str, ...] = ("ego_view", "left_wrist", "right_wrist")
    vary: bool = True
    paraphrase: bool = False
    keep_failures: bool = False
    locomotion: str | None = None  # what moves the G1 (holonomic | walker[:PATH]); None: each task's own


@dataclass
class Job:
    task: str
    seed: int
    tries: int = 0


@dataclass
class Tally:
    kept: int = 0
    attempted: int = 0
    succeeded: int = 0
    next_seed: int = 0
    in_flight: int = 0


@dataclass
class CollectSummary:
    dataset: str
    episodes: int = 0  # committed now
    attempted: int = 0
    succeeded: int = 0
    errors: int = 0
    wall_s: float = 0.0
    sim_s: float = 0.0
    episode_wall_s: float = 0.0
    render_s: float = 0.0
    per_task: dict[str, dict[str, int]] = field(default_factory=dict)
    total_episodes: int = 0


# -- worker side -----------------------------------------------------------------------------------
def run_job(job: dict[str, Any], opts: dict[str, Any], video_dir: str) -> dict[str, Any]:
    """Record one episode in this process; the result travels back to the parent (pickled)."""
    from eval.datasets.episode import record_episode

    try:
        r = record_episode(
            job["task"],
            job["seed"],
            fps=opts["fps"],
            image_size=opts["image_size"],
            cameras=list(opts["cameras"]),
            video_dir=Path(video_dir),
            vary=opts["vary"],
            paraphrase=opts["paraphrase"],
            locomotion=opts.get("locomotion"),
        )
    except Exception:
        return {"job": job, "error": traceback.format_exc()}
    return {"job": job, "result": r}


def _worker_main(conn, parent_pid: int, opts: dict[str, Any], video_dir: str) -> None:
    from eval.runner import single_threaded

    watch_parent(parent_pid)
    single_threaded()
    try:
        import agent.runtime  # noqa: F401  (imports before "ready": not billed to the first episode)
        import envs.lab.env  # noqa: F401

        conn.send(("ready", os.getpid()))
        while True:
            try:
                job = conn.recv()
            except EOFError:
                return
            if job is None:
                return
            conn.send(("result", run_job(job, opts, video_dir)))
    except (BrokenPipeError, KeyboardInterrupt):
        return


OnEvent = Callable[[str, dict[str, Any]], None]


class LocalPool:
    """Spawned worker processes; ``run`` hands out jobs from ``next_job`` until it returns None."""

    def __init__(self, workers: int, opts: dict[str, Any], video_dir: str, on_event: OnEvent) -> None:
        self.n = max(1, workers)
        self.opts, self.video_dir, self.on_event = opts, video_dir, on_event

    def run(self, next_job: Callable[[], Job | None], on_result: Callable[[Job, dict], None]) -> None:
        def lost(job: Job, why: str, wall_s: float) -> bool:
            if job.tries < RETRIES:
                job.tries += 1
                self.on_event("retry", {"task": job.task, "seed": job.seed, "why": why})
                return True
            on_result(job, {"job": asdict(job), "error": why})
            return False

        supervise(
            what="collect",
            target=_worker_main,
            args=(self.opts, self.video_dir),
            workers=self.n,
            next_job=next_job,
            message=asdict,
            on_result=lambda job, payload, wall_s: on_result(job, payload),
            on_lost=lost,
            on_worker=lambda pid: self.on_event("worker", {"pid": pid}),
        )


class RayPool:
    """The same jobs as Ray tasks (eval/ray_backend.py joins the cluster); the dataset folder must be on a
    filesystem every node sees, since workers write the episode videos there."""

    def __init__(self, address: str, workers: int, opts: dict[str, Any], video_dir: str, on_event: OnEvent):
        self.address, self.n, self.opts, self.video_dir = address, max(1, workers), opts, video_dir

    def run(self, next_job: Callable[[], Job | None], on_result: Callable[[Job, dict], None]) -> None:
        from eval.ray_backend import connect

        try:
            connect(self.address, self.n)
        except Exception as e:  # Ray missing, no cluster at that address, or a local one that would not start
            raise RuntimeError(f"--ray {self.address}: could not start or join Ray: {e}") from None
        import ray

        task = ray.remote(num_cpus=1, max_retries=RETRIES)(run_job)
        running: dict[Any, Job] = {}
        while True:
            while len(running) < self.n:
                job = next_job()
                if job is None:
                    break
                running[task.remote(asdict(job), self.opts, self.video_dir)] = job
            if not running:
                return
            done, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for ref in done:
                job = running.pop(ref)
                try:
                    payload = ray.get(ref)
                except Exception as e:  # the worker died twice
                    payload = {"job": asdict(job), "error": f"ray task failed: {e!r}"}
                on_result(job, payload)


# -- parent side -----------------------------------------------------------------------------------
class Collection:
    """The bookkeeping of one ``tandem collect``: which seeds to run next, what to commit."""

    def __init__(
        self,
        out: Path,
        tasks: list[str],
        episodes: int,
        seed: int,
        opts: CollectOptions,
        layout: DatasetLayout,
    ) -> None:
        self.out = Path(out)
        self.opts = opts
        self.writer = DatasetWriter(self.out, layout, opts.fps, list(opts.cameras), opts.image_size)
        self.episodes = episodes
        self.tasks = tasks
        self.tally = {t: Tally(next_seed=seed) for t in tasks}
        attempts, _ = read_jsonl(self.out / LOG)
        seen = set()
        for a in attempts:
            t = self.tally.get(a["task"])
            if t is not None:
                seen.add((a["task"], a["seed"]))
                t.attempted += 1
                t.succeeded += bool(a.get("success"))
                t.next_seed = max(t.next_seed, a["seed"] + 1)
        for e in self.writer.episodes:
            t = self.tally.get(e.get("task_name"))
            if t is None:
                continue
            t.kept += 1
            t.next_seed = max(t.next_seed, e["seed"] + 1)
            if (e["task_name"], e["seed"]) not in seen:  # committed, then stopped before the log line
                t.attempted += 1
                t.succeeded += bool(e.get("success"))
        self.summary = CollectSummary(dataset=str(self.out))

    def remaining(self) -> int:
        return sum(max(0, self.episodes - t.kept) for t in self.tally.values())

    def next_job(self) -> Job | None:
        for name, t in self.tally.items():
            limit = MAX_ATTEMPTS_FACTOR * self.episodes + 5
            if t.kept + t.in_flight < self.episodes and t.attempted + t.in_flight < limit:
                job = Job(name, t.next_seed)
                t.next_seed += 1
                t.in_flight += 1
                return job
        return None

    def on_result(self, job: Job, payload: dict[str, Any]) -> dict[str, Any]:
        """Commit (or drop) one finished episode; returns the log line written for it."""
        t = self.tally[job.task]
        t.in_flight -= 1
        t.attempted += 1
        s = self.summary
        s.attempted += 1
        line: dict[str, Any] = {"task": job.task, "seed": job.seed, "success": False, "kept": False}
        r = payload.get("result")
        if r is None:
            s.errors += 1
            lines = (payload.get("error") or "unknown error").strip().splitlines()
            line["reason"] = "error: " + (lines[-1] if lines else "unknown error")
        else:
            line.update(
                success=r.success, reason=r.reason, sim_s=round(r.sim_s, 3), wall_s=round(r.wall_s, 3)
            )
            s.succeeded += r.success
            t.succeeded += r.success
            s.sim_s += r.sim_s
            s.episode_wall_s += r.wall_s
            s.render_s += r.render_s
            want = t.kept < self.episodes and (r.success or self.opts.keep_failures)
            if r.data is not None and want:
                line["episode_index"] = self.writer.add_episode(r.data)
                line["kept"] = True
                t.kept += 1
                s.episodes += 1
            elif r.data is not None:
                for path in r.data.videos.values():
                    Path(path).unlink(missing_ok=True)
        append_line(self.out / LOG, line)
        return line

    def finish(self, wall_s: float) -> CollectSummary:
        s = self.summary
        s.wall_s = wall_s
        s.per_task = {
            n: {"kept": t.kept, "attempted": t.attempted, "succeeded": t.succeeded}
            for n, t in self.tally.items()
        }
        s.total_episodes = len(self.writer.episodes)
        self.writer.close()
        return s


def dataset_layout(tasks: list[str]) -> DatasetLayout:
    """The one layout the tasks' scenes record (a dataset holds one robot)."""
    from skills.tasks import TaskError, load_task

    scenes = {name: load_task(name).scene for name in tasks}
    layouts = {name: layout_for_scene(scene) for name, scene in scenes.items()}
    first = next(iter(layouts.values()))
    other = next((n for n, lay in layouts.items() if lay != first), None)
    if other is not None:
        a = next(iter(layouts))
        raise TaskError(
            f"tasks '{a}' ({first.robot_type}) and '{other}' ({layouts[other].robot_type}) record different "
            "robots; collect them into separate datasets"
        )
    return first


def collect(
    tasks: list[str],
    episodes: int,
    out: Path,
    opts: CollectOptions,
    seed: int = 0,
    workers: int = 1,
    ray_address: str | None = None,
    progress: bool = True,
    on_event: OnEvent | None = None,
) -> CollectSummary:
    """Collect until every task has ``episodes`` kept episodes in ``out`` (appending to what is there)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    layout = dataset_layout(tasks)  # a bad task fails here, before any worker starts
    col = Collection(out, tasks, episodes, seed, opts, layout)
    on_event = on_event or (lambda kind, data: None)
    todo = col.remaining()
    t0 = time.perf_counter()
    prog = Progress(
        TextColumn("[bold]collect[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not progress,
    )
    bar = prog.add_task("collect", total=todo, stats="")

    def on_result(job: Job, payload: dict[str, Any]) -> None:
        line = col.on_result(job, payload)
        s = col.summary
        minutes = (time.perf_counter() - t0) / 60
        prog.update(
            bar,
            completed=s.episodes,
            stats=f"{s.episodes / max(minutes, 1e-9):.1f} ep/min  success {s.succeeded}/{s.attempted}",
        )
        on_event("episode", line)

    opts_d = asdict(opts)
    video_dir = str(col.writer.tmp)
    with prog:
        if todo > 0:
            pool = (
                RayPool(ray_address, workers, opts_d, video_dir, on_event)
                if ray_address
                else LocalPool(workers, opts_d, video_dir, on_event)
            )
            pool.run(col.next_job, on_result)
    return col.finish(time.perf_counter() - t0)


__all__ = ["CollectOptions", "CollectSummary", "collect", "dataset_layout"]
