"""Scale-out on Ray: the same episodes as Ray tasks, results into the same database.

    tandem eval lab_basics --ray auto            # an existing cluster (``ray start --head`` first)
    tandem eval lab_basics --ray local --workers 8   # a local Ray instance with 8 CPUs
    tandem eval lab_basics --ray ray://HEAD:10001

Each task runs ``eval.runner.execute`` in a Ray worker process; Ray reuses worker processes across
tasks, so a worker builds its env once per scene as in the local pool. At most ``workers`` tasks are
in flight, so a task starts when it is submitted and its wall-time budget is measured from there; an
overdue task is cancelled with ``force=True`` (its worker process is killed) and recorded as ``timeout``.
Run records are written by the workers under RESULTS/runs: on a multi-node cluster that folder must be
on a filesystem every node sees. Optional dependency: ``pip install 'tandem-agent[ray]'``.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from typing import Any

from eval.runner import THREAD_VARS, OnResult, _lost, execute, single_threaded
from eval.suite import Episode

FORWARD_ENV = ("MENAGERIE_ROOT", "MENAGERIE_CACHE_DIR", "MUJOCO_GL", "TANDEM_CACHE_DIR", "HF_HUB_OFFLINE")


def _episode(ep: dict[str, Any], runs_dir: str) -> dict[str, Any]:
    single_threaded()
    return execute(ep, runs_dir)


def connect(address: str | None, workers: int) -> None:
    """Join a cluster (``auto``, ``ray://...``, ``HOST:PORT``), or start a local instance (``local``).
    An already initialised Ray (``ray.init`` by the caller, as the tests do) is used as it is."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("--ray needs Ray: pip install 'tandem-agent[ray]'") from None
    if ray.is_initialized():
        return
    env_vars = {k: os.environ[k] for k in FORWARD_ENV if k in os.environ}
    env_vars.update({k: "1" for k in THREAD_VARS})
    kwargs: dict[str, Any] = {
        "runtime_env": {"env_vars": env_vars},
        "include_dashboard": False,
        "log_to_driver": False,
        "configure_logging": False,
    }
    if address in (None, "", "local"):
        ray.init(num_cpus=workers, **kwargs)
    else:
        ray.init(address=address, **kwargs)


def run_ray(
    episodes: list[Episode], runs_dir: Path, workers: int, on_result: OnResult, address: str | None = None
) -> None:
    import ray

    connect(address, workers)
    task = ray.remote(num_cpus=1, max_retries=0)(_episode)
    queue = deque(episodes)
    running: dict[Any, tuple[Episode, float]] = {}
    slots = max(1, workers)
    while queue or running:
        while queue and len(running) < slots:
            ep = queue.popleft()
            running[task.remote(ep.to_dict(), str(runs_dir))] = (ep, time.perf_counter())
        done, _ = ray.wait(list(running), num_returns=1, timeout=0.25)
        now = time.perf_counter()
        for ref in done:
            ep, started = running.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as e:  # the worker died (OOM, a segfault): the episode is an error
                result = _lost(ep, "error", f"ray task failed: {e!r}", now - started)
            else:
                result["timing"]["dispatch_s"] = now - started
            on_result(ep, result)
        for ref, (ep, started) in list(running.items()):
            if now - started > ep.time_budget_s:
                ray.cancel(ref, force=True)
                running.pop(ref)
                error = f"timeout: the episode ran past its wall-time budget of {ep.time_budget_s:g} s"
                on_result(ep, _lost(ep, "timeout", error, now - started))
