"""Spawned worker processes fed one job at a time: the supervision loop ``tandem eval`` and ``tandem
collect`` share. It starts the workers, hands out jobs as workers fall idle, passes results back, and
replaces a worker that dies or overruns its job's budget (the caller decides whether the job runs again).

A worker's main function is ``target(conn, parent_pid, *args)``: it calls ``watch_parent(parent_pid)``,
sends ``("ready", pid)`` once it can take jobs (or ``("fatal", text)`` if it cannot start), then answers
each job message with ``("result", payload)`` until it receives None.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any, Generic, TypeVar

Job = TypeVar("Job")
STARTUP_CRASHES = 3  # workers that die before their first job, then the whole run stops


def watch_parent(parent_pid: int) -> None:
    """In a worker: exit when the parent is gone (killed), rather than finish work nobody will record."""

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(3)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()


class _Worker(Generic[Job]):
    def __init__(self, ctx, target: Callable[..., None], args: tuple) -> None:
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(child, os.getpid(), *args), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent
        self.ready = False
        self.job: Job | None = None
        self.started = 0.0

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


def supervise(
    *,
    what: str,
    target: Callable[..., None],
    args: tuple,
    workers: int,
    next_job: Callable[[], Job | None],
    message: Callable[[Job], Any],
    on_result: Callable[[Job, Any, float], None],
    on_lost: Callable[[Job, str, float], bool],
    budget: Callable[[Job], float | None] = lambda job: None,
    on_worker: Callable[[int], None] = lambda pid: None,
    more: Callable[[], bool] = lambda: False,
) -> None:
    """Run jobs from ``next_job`` (None: none now) on ``workers`` spawned processes until all are done
    and ``more()`` says no further job will come (jobs produced while these run: cells still training).

    ``on_result(job, payload, seconds since handed out)`` runs here for each answer. When a worker dies
    or a job outlives ``budget(job)`` seconds, the worker is replaced and ``on_lost(job, why, seconds)``
    says whether the job is handed out again (``why`` is "timeout" or how the worker died). ``what``
    names the workers in errors.
    """
    ctx = mp.get_context("spawn")

    def spawn() -> _Worker[Job]:
        w: _Worker[Job] = _Worker(ctx, target, args)
        on_worker(w.proc.pid or 0)
        return w

    pool = [spawn() for _ in range(max(1, workers))]
    pending: deque[Job] = deque()  # jobs taken from next_job (or to run again) not yet handed out
    startup_crashes = 0
    try:
        while True:
            for w in pool:
                if w.ready and w.job is None:
                    job = pending.popleft() if pending else next_job()
                    if job is not None:
                        w.job, w.started = job, time.perf_counter()
                        w.conn.send(message(job))
            if not pending and all(w.job is None for w in pool):
                job = next_job()
                if job is not None:
                    pending.append(job)
                elif not more():
                    return
            ready = wait([w.conn for w in pool] + [w.proc.sentinel for w in pool], timeout=0.25)
            now = time.perf_counter()
            for i, w in enumerate(pool):
                failed: str | None = None
                if w.conn in ready:
                    try:
                        kind, payload = w.conn.recv()
                    except (EOFError, OSError):
                        w.proc.join(1)
                        failed = f"worker {w.proc.pid} died (exit code {w.proc.exitcode})"
                    else:
                        if kind == "ready":
                            w.ready = True
                        elif kind == "fatal":  # the worker cannot even start (an import error)
                            raise RuntimeError(f"a {what} worker failed to start:\n{payload}")
                        elif w.job is not None:
                            job, w.job = w.job, None
                            on_result(job, payload, now - w.started)
                elif not w.proc.is_alive():
                    w.proc.join(1)
                    failed = f"worker {w.proc.pid} died (exit code {w.proc.exitcode})"
                elif w.job is not None and (limit := budget(w.job)) is not None and now - w.started > limit:
                    failed = "timeout"
                if failed is None:
                    continue
                job, w.job = w.job, None
                w.kill()
                if job is None:
                    startup_crashes += 1
                    if startup_crashes >= STARTUP_CRASHES:
                        raise RuntimeError(f"{what} workers keep dying before any job: {failed}")
                elif on_lost(job, failed, now - w.started):
                    pending.append(job)
                pool[i] = spawn()
    finally:
        for w in pool:
            with contextlib.suppress(OSError, BrokenPipeError):
                w.conn.send(None)
        for w in pool:
            w.proc.join(2)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(2)
