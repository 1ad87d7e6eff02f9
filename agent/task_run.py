"""A whole task run by a policy on a robot without a skill library (the SO-100 arm): no planner and no
skill calls, the policy told the task's instruction drives every joint group of the robot until the
task's success predicates hold (``SETTLE_S``) or ``max_sim_s`` runs out. It is judged from the physics
and recorded like a planned run (``events.jsonl``, ``summary.json`` with the final world), so eval's
metrics, trajectories and ``tandem diagnose`` read it the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.records import RunRecord
from skills.reasons import POLICY_ERROR, UNSTABLE

SKILL = "task"  # the one call of such a run, as the record names it


@dataclass(frozen=True)
class TaskRun:
    """What runs: the instruction said to the policy, where, and how it is judged."""

    goal: str
    scene: str
    seed: int
    success: list[tuple[str, dict[str, Any]]]  # (predicate, params), as eval cases carry them
    max_sim_s: float
    manipulation: str


def judge(world, success: list[tuple[str, dict[str, Any]]]) -> tuple[bool, list[str]]:
    """Whether every success predicate holds (as eval's metrics judge the final world), and what each saw."""
    from eval.metrics import evaluate_checks

    checks = evaluate_checks(world, success)
    return bool(checks) and all(c["ok"] for c in checks), [f"{c['predicate']}: {c['detail']}" for c in checks]


def run_task(
    run: TaskRun, env, record: RunRecord, on_tick: Callable[[int, Any, Any], None] | None = None
) -> dict[str, Any]:
    """Reset ``env`` to the run's seed, let the policy act, write the outcome and the summary."""
    from eval.datasets.episode import run_whole_task
    from skills.policies.manipulation import UntilExecutor, resolve

    backend = resolve(run.manipulation)
    obs = env.reset(seed=run.seed)
    start = env.world_state()
    steps = round(run.max_sim_s / env.control_dt)
    inner = backend.task_executor(env, run.goal, steps)
    if inner is None:
        raise ValueError(
            f"--manipulation {run.manipulation}: scene '{run.scene}' has no skill library, so a policy runs "
            "its whole task (policy:CKPT or groot://HOST:PORT); its scripted expert records with "
            f"tandem collect --scene {run.scene}"
        )
    executor = UntilExecutor(inner, lambda _start, world: judge(world, run.success)[0])
    record.event("start", goal=run.goal, scene=run.scene, seed=run.seed, manipulation=run.manipulation)
    record.event("dispatch", call_id="c1", skill=SKILL, args={"instruction": run.goal})
    t0 = time.perf_counter()
    try:
        world, _ = run_whole_task(executor, env, obs, start, run.max_sim_s, on_tick)
    finally:
        stats = executor.stats()
        executor.close()
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    wall = time.perf_counter() - t0
    ok, seen = judge(world, run.success)
    error = executor.error
    if error is not None:
        status, reason = "failure", f"{POLICY_ERROR}: {error}"
    elif world.unstable is not None:
        status, reason = "failure", f"{UNSTABLE}: {world.unstable}"
    else:
        status, reason = ("success" if ok else "failure"), "; ".join(seen)
    record.event(
        "outcome",
        call_id="c1",
        skill=SKILL,
        status=status,
        reason=reason,
        sim_time_s=round(world.time_s, 3),
        started_s=round(start.time_s, 3),
        args={"instruction": run.goal},
        evidence={"checks": seen, **({"policy": stats} if stats else {})},
    )
    summary = {
        "run_id": record.run_id,
        "success": status == "success",
        "status": status,
        "goal": run.goal,
        "message": reason,
        "plan": [{"id": "c1", "skill": SKILL, "args": {"instruction": run.goal}}],
        "sim_time_s": round(world.time_s - start.time_s, 3),
        "wall_time_s": round(wall, 3),
        "seed": run.seed,
        "scene": run.scene,
        "planner": "none",
        "manipulation": run.manipulation,
        "record": str(record.dir),
        "final_world": world.to_dict(),
    }
    record.write_summary(summary)
    return summary
