"""OfflinePlanner behind the graph's PlannerBackend protocol (planner/backend.py)."""

from __future__ import annotations

from typing import Any

from envs.base import WorldState
from planner import backend
from planner.offline.planner import Intent, OfflinePlanner, Reply
from planner.schema import Plan


class OfflineBackend:
    name = "offline"

    def __init__(self, planner: OfflinePlanner | None = None) -> None:
        self.planner = planner or OfflinePlanner()
        # object -> hands found unable to reach it in this run (validation or a call's start)
        self.unreachable: dict[str, set[str]] = {}

    def understand(self, goal: str, world: WorldState) -> backend.Understood | backend.Reply:
        result = self.planner.understand(goal, world)
        if isinstance(result, Reply):
            return backend.Reply(result.message, result.kind)
        title = self.planner.library.recipes[result.recipe].title
        params = ", ".join(f"{k}={v}" for k, v in result.params.items())
        confirm = (
            f"I read '{goal}' as '{title}' ({params}), a weak match (score {result.score:.2f}): go ahead?"
            if result.weak
            else None
        )
        return backend.Understood(task=result.model_dump(), summary=f"{title} ({params})", confirm=confirm)

    def plan(self, task: dict[str, Any], world: WorldState, feedback: backend.Feedback | None = None) -> Plan:
        # The recipe is expanded again from the world as it is now, which re-picks a dropped object and
        # skips what already succeeded; an unreachable call's object goes to the other hand from now on.
        if feedback is not None and feedback.outcome.get("reason") == "unreachable":
            args = feedback.failed_step.get("args", {})
            obj = args.get("object") or args.get("source")
            if obj and args.get("hand"):
                self.unreachable.setdefault(obj, set()).add(args["hand"])
        return self.planner.plan(Intent.model_validate(task), world, avoid=self.unreachable)

    def goal_met(self, task: dict[str, Any], world: WorldState) -> tuple[bool | None, list[str]]:
        return self.planner.goal_met(Intent.model_validate(task), world)
