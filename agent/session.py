"""A run: env + System 1 + a planner backend + the graph, checkpointed and recorded under runs/RUN_ID/."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver

from agent.faults import parse_fault
from agent.records import RunRecord, finished, read_events, read_summary, runs_root
from agent.system_one import SystemOne
from planner.backend import PlannerBackend
from planner.graph import GraphContext, build_graph
from skills.policies.manipulation import resolve as resolve_manipulation

META = "meta.json"
CHECKPOINTS = "checkpoints.sqlite"
RECURSION_LIMIT = 400


@dataclass
class RunConfig:
    """Everything that defines a run, saved so ``--resume`` can rebuild it."""

    goal: str
    scene: str = "g1_lab"
    seed: int | None = None
    faults: list[str] = field(default_factory=list)
    planner: str = "offline"
    planner_options: dict[str, Any] = field(default_factory=dict)
    manipulation: str = (
        "scripted"  # who runs pick/place: scripted, policy:CKPT (skills/policies/manipulation.py)
    )
    locomotion: str | None = None  # holonomic | walker[:PATH]; None: the scene's default
    # The graph's recovery budget; 0 and 0 judge one attempt at each step (a policy's own success rate).
    max_step_retries: int = 1
    max_replans: int = 3


def draw_seed() -> int:
    """A seed for a run that was given none, recorded so the run can be repeated."""
    return random.SystemRandom().randrange(2**31)


def make_backend(cfg: RunConfig, record: RunRecord, emit=None) -> PlannerBackend:
    if cfg.planner == "offline":
        from planner.offline.backend import OfflineBackend
        from planner.offline.planner import OfflinePlanner

        return OfflineBackend(OfflinePlanner(scene=cfg.scene))
    if cfg.planner == "llm":
        from dataclasses import replace

        from planner.llm.backend import make_llm_backend

        offline = replace(cfg, planner="offline")
        return make_llm_backend(
            cfg.planner_options, record, fallback=lambda: make_backend(offline, record), emit=emit
        )
    raise ValueError(f"unknown planner '{cfg.planner}'; planners: offline, llm")


def plannable(scene: str) -> bool:
    """Whether the robot of ``scene`` has the skill library plans are made of (the G1's); the SO-100 arm
    has none: a policy runs its whole task (agent/task_run.py)."""
    from envs.registry import env_for_scene

    return env_for_scene(scene) == "g1_lab"


def _check_plannable(scene: str) -> None:
    """Runs plan skill calls of the G1's library; a scene of another robot is refused before anything
    loads."""
    from envs.registry import env_for_scene
    from envs.scene_schema import SceneError

    backend = env_for_scene(scene)
    if not plannable(scene):
        raise SceneError(
            f"--scene {scene}: built by the '{backend}' backend, which has no skill library for the planner; "
            f"its tasks run whole: by a policy in tandem diagnose POLICY --scene {scene}, by the scripted "
            f"expert in tandem collect --scene {scene}"
        )


class RunAborted(RuntimeError):
    """A person stopped the run (``/abort``, a correction, Ctrl-C)."""


class RunFinished(Exception):
    """``--resume`` of a run that has already ended: nothing to do, its record stays as it is."""

    def __init__(self, summary: dict[str, Any]) -> None:
        super().__init__(
            f"run {summary['run_id']} has already finished ({summary['status']}: "
            f"{summary.get('message', '')}); nothing to resume, its record is unchanged"
        )
        self.summary = summary


class RunSession:
    """Args:
    cfg: what to run.
    run_id, root: where the record goes (runs/RUN_ID by default).
    env: an env to reuse (eval workers, the chat REPL); a fresh one is built when None.
    reset_env: reset a reused env to ``cfg.seed`` first; the REPL keeps the world between tasks.
    progress: told what start-up is doing (``progress("loading the robot model")``), for the live view.

    A run given no seed draws one; the request (with the seed) is written to meta.json before anything
    slow happens, so a run killed during start-up can still be listed and resumed.
    """

    def __init__(
        self,
        cfg: RunConfig,
        run_id: str | None = None,
        root: Path | None = None,
        env=None,
        reset_env: bool = True,
        progress=None,
    ) -> None:
        progress = progress or (lambda what: None)
        _check_plannable(cfg.scene)
        if cfg.seed is None and (env is None or reset_env):
            cfg.seed = draw_seed()
        self.cfg = cfg
        self.record = RunRecord(run_id, root or runs_root())
        self.run_id = self.record.run_id
        if not self._meta_path().exists():
            self._meta_path().write_text(json.dumps(self.cfg.__dict__, indent=2))
        self.record.event("process", pid=os.getpid())
        faults = [parse_fault(f) for f in cfg.faults]
        if env is None:
            progress("loading the robot model and the scene")
            from envs.registry import make_scene

            env = make_scene(cfg.scene, seed=cfg.seed, locomotion=cfg.locomotion)
        elif reset_env:
            env.reset(seed=cfg.seed)
        self.env = env
        self._abort = False
        self.listeners: list[Any] = []
        self.system_one = SystemOne(
            self.env, faults, emit=self.emit, manipulation=resolve_manipulation(cfg.manipulation)
        )
        self.system_one.on_tick.append(self._check_abort)
        progress(f"loading the {cfg.planner} planner")
        self.backend = make_backend(cfg, self.record, emit=self.emit)
        self._conn = sqlite3.connect(self.record.dir / CHECKPOINTS, check_same_thread=False)
        self.graph = build_graph(
            GraphContext(
                backend=self.backend,
                runner=self.system_one,
                emit=self.emit,
                max_step_retries=cfg.max_step_retries,
                max_replans=cfg.max_replans,
            ),
            SqliteSaver(self._conn),
        )
        self.config = {"configurable": {"thread_id": self.run_id}, "recursion_limit": RECURSION_LIMIT}

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        self.record.event(kind, **data)
        for listener in self.listeners:
            listener(kind, data)

    def abort(self) -> None:
        """Stop at the next control tick (safe to call from another thread)."""
        self._abort = True

    def _check_abort(self, rt) -> None:
        if self._abort:
            raise RunAborted("stopped by the user")

    def _meta_path(self) -> Path:
        return self.record.dir / META

    def run(self, approval: bool = False, confirm_weak: bool = False) -> dict[str, Any]:
        """Run to the end, or until a plan awaits approval (summary status ``awaiting_approval``).
        ``confirm_weak``: a person is there to confirm a weakly understood request before it runs."""
        self.emit(
            "start",
            {
                "goal": self.cfg.goal,
                "scene": self.cfg.scene,
                "seed": self.cfg.seed,
                "faults": self.cfg.faults,
            },
        )
        initial = {"goal": self.cfg.goal, "outcomes": [], "retries": 0, "replans": 0, "status": "running"}
        return self._drive({**initial, "approval": approval, "confirm_weak": confirm_weak})

    def answer(self, approved: bool) -> dict[str, Any]:
        """Answer a pending approval and go on."""
        from langgraph.types import Command

        return self._drive(Command(resume=approved))

    def pending_approval(self) -> dict[str, Any] | None:
        """The plan waiting for approval, if the graph is stopped at the approve node."""
        for task in self.graph.get_state(self.config).tasks:
            for intr in task.interrupts:
                return intr.value
        return None

    @classmethod
    def resume(cls, run_id: str, root: Path | None = None, progress=None) -> RunSession:
        """The session of a killed (or stopped) run, its world restored from the last checkpoint.

        Raises RunFinished, touching nothing, when the run has already ended."""
        root = root or runs_root()
        meta = root / run_id / META
        if not meta.exists():
            raise FileNotFoundError(f"no run '{run_id}' under {root} (no {META})")
        summary = read_summary(root / run_id)
        if finished(summary):
            raise RunFinished(summary)
        session = cls(RunConfig(**json.loads(meta.read_text())), run_id=run_id, root=root, progress=progress)
        snap = session.graph.get_state(session.config).values.get("snapshot")
        if snap:
            session.env.restore(snap)
        session.emit("resume", {"from_sim_time_s": snap["time"] if snap else 0.0})
        return session

    def continue_run(self) -> dict[str, Any]:
        """Go on from the last checkpoint; a run killed before its first one starts from its request."""
        if not self.graph.get_state(self.config).values:
            return self.run()
        return self._drive(None)

    def _previous_wall_s(self) -> float:
        """Wall time the earlier drives of this run took (other processes included): from each ``drive``
        event to the last event before the next drive or process (a killed process stops at its last
        event; the time until a later process resumed the run is not the run's)."""
        total, start, last = 0.0, None, None
        for e in read_events(self.record.dir):
            if e["kind"] in ("drive", "process"):
                if start is not None and last is not None:
                    total += last - start
                start = last = e["wall_time"] if e["kind"] == "drive" else None
            elif start is not None:
                last = e["wall_time"]
        if start is not None and last is not None:
            total += last - start
        return total

    def _drive(self, initial: Any) -> dict[str, Any]:
        earlier = self._previous_wall_s()
        self.emit("drive", {})
        t0 = time.perf_counter()
        sim0 = self.env.world_state().time_s
        aborted = False
        try:
            # durability "sync": a step's checkpoint is on disk before its node event is logged and the next
            # step starts. With the default ("async") a run killed just after a pick's wave resumed from
            # the checkpoint before it and picked again (tests/test_run.py, once in four full runs).
            updates = self.graph.stream(initial, self.config, stream_mode="updates", durability="sync")
            for update in updates:
                for node in update:
                    self.emit("node", {"node": node})
        except RunAborted:
            aborted = True
            self.emit("aborted", {"sim_time_s": self.env.world_state().time_s})
        final = dict(self.graph.get_state(self.config).values)
        if aborted:
            final.update(status="aborted", message="stopped by the user")
        elif self.pending_approval() is not None:
            final.update(status="awaiting_approval", message="the plan awaits approval")
        if finished(final):
            self.system_one.report_unused_faults()
        wall = time.perf_counter() - t0
        summary = self.summary(final, earlier + wall, self.env.world_state().time_s - sim0)
        summary["this_process_wall_s"] = round(wall, 3)
        self.record.write_summary(summary)
        self.emit(
            "summary",
            {k: summary[k] for k in ("status", "success", "retries", "replans", "sim_time_s", "wall_time_s")},
        )
        return summary

    def summary(self, state: dict[str, Any], wall_s: float, sim_s: float) -> dict[str, Any]:
        plan = state.get("plan") or {"steps": []}
        status = state.get("status", "failed")
        world = self.env.world_state()
        return {
            "run_id": self.run_id,
            "success": status == "success",
            "status": status,
            "goal": state.get("goal", self.cfg.goal),
            "understood_as": state.get("summary"),
            "message": state.get("message", ""),
            "plan": plan.get("steps", []),
            "plan_reason": plan.get("reason", ""),
            "plan_versions": state.get("plan_version", 0),
            "outcomes": state.get("outcomes", []),
            "retries": state.get("retries", 0),
            "replans": state.get("replans", 0),
            "sim_time_s": round(world.time_s, 3),
            "wall_time_s": round(wall_s, 3),
            "this_process_sim_s": round(sim_s, 3),
            "spilled_ml": world.spilled_ml,
            "reactions": [r.__dict__ for r in world.reactions],
            "seed": self.cfg.seed,
            "scene": self.cfg.scene,
            "planner": self.cfg.planner,
            "manipulation": self.cfg.manipulation,
            "record": str(self.record.dir),
            "final_world": world.to_dict(),
        } | ({"planner_usage": self.backend.usage()} if hasattr(self.backend, "usage") else {})

    def close(self) -> None:
        self.record.close()
        self._conn.close()
