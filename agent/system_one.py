"""System 1 as the planner graph sees it: run one wave of ready plan steps on the env."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.dispatcher import ActiveCall
from agent.monitors import MonitorConfig
from agent.runtime import Runtime
from envs.base import WorldState
from planner.backend import Wave
from planner.schema import Plan
from skills.policies.manipulation import Manipulation

TickHook = Callable[[Runtime], None]
StartHook = Callable[[ActiveCall], None]


class SystemOne:
    """Runs the steps whose dependencies are done, all at once, until every one of them is decided.

    Waves end quiescent (nothing but background holds running), so the state between waves is fully
    described by the simulator snapshot the graph checkpoints.
    """

    def __init__(
        self,
        env,
        faults: list[Any] | None = None,
        monitors: MonitorConfig | None = None,
        emit: Callable[[str, dict[str, Any]], None] | None = None,
        manipulation: Manipulation | None = None,
    ) -> None:
        self.env = env
        self.manipulation = manipulation
        self.faults = faults or []
        self.monitors = monitors
        self.emit = emit or (lambda kind, data: None)
        self.on_tick: list[TickHook] = []
        self.on_start: list[StartHook] = []

    def world(self) -> WorldState:
        return self.env.world_state()

    def run_wave(self, plan: Plan, done: set[str]) -> Wave:
        rt = Runtime(self.env, self.monitors, self.faults, self.manipulation)
        rt.on_tick.extend(self.on_tick)
        rt.on_start.append(
            lambda a: self.emit(
                "dispatch",
                {
                    "call_id": a.call.id,
                    "skill": a.call.spec.name,
                    "args": a.call.raw_args,
                    "sim_time_s": round(a.started_s, 4),
                },
            )
        )
        rt.on_start.extend(self.on_start)
        rt.on_outcome.append(lambda o: self.emit("outcome", o.to_dict()))
        for step in plan.steps:
            if step.id not in done and all(dep in done for dep in step.after):
                rt.call(step.id, step.skill, step.args)
            elif step.id not in done:
                rt.upcoming.append((step.skill, step.args))
        outcomes = []
        while True:
            decided = rt.run_until_event()
            outcomes.extend(decided)
            if rt.episode_over is not None or (
                rt.dispatcher.idle()
                and not any(not a.call.spec.background for a in rt.dispatcher.active.values())
            ):
                break
        return Wave(outcomes=[o.to_dict() for o in outcomes], snapshot=self.env.snapshot(), world=rt.world)
