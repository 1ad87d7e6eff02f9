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

    def understand(self, goal: str, world: WorldState) -> backend.Understood | backend.Reply:
        result = self.planner.understand(goal, world)
        if isinstance(result, Reply):
            return backend.Reply(result.message, result.kind)
        title = self.planner.library.recipes[result.recipe].title
        params = ", ".join(f"{k}={v}" for k, v in result.params.items())
        return backend.Understood(task=result.model_dump(), summary=f"{title} ({params})")

    def plan(self, task: dict[str, Any], world: WorldState, feedback: backend.Feedback | None = None) -> Plan:
        # Feedback needs no handling of its own: the recipe is expanded again from the world as it is
        # now, which re-picks a dropped object and skips what already succeeded.
        return self.planner.plan(Intent.model_validate(task), world)

    def goal_met(self, task: dict[str, Any], world: WorldState) -> tuple[bool, list[str]]:
        return self.planner.goal_met(Intent.model_validate(task), world)
