"""What the graph needs from a planner backend (offline recipes, an LLM) and from System 1."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from envs.base import WorldState
from planner.schema import Plan


class PlanningError(ValueError):
    """The backend cannot produce a plan for this task from this world; the message says why."""


@dataclass(frozen=True)
class Understood:
    """The request as a task the backend can plan for; ``task`` is backend data, JSON-serializable."""

    task: dict[str, Any]
    summary: str
    confirm: str | None = None  # a weak match: the question to ask a person before the robot moves


@dataclass(frozen=True)
class Reply:
    """No plan: what to tell the person instead (not understood, a question, a refusal)."""

    message: str
    kind: str = "not_understood"  # or question, declined, refused, error


@dataclass(frozen=True)
class Feedback:
    """Why the planner is asked again: the failed step, its monitor evidence, what already succeeded."""

    failed_step: dict[str, Any]
    outcome: dict[str, Any]
    succeeded: list[str] = field(default_factory=list)
    decision: str = "replan"


class PlannerBackend(Protocol):
    name: str

    def understand(self, goal: str, world: WorldState) -> Understood | Reply: ...

    def plan(self, task: dict[str, Any], world: WorldState, feedback: Feedback | None = None) -> Plan | Reply:
        """A plan, or a Reply when the planner declines (a question for the person, giving up)."""
        ...

    def goal_met(self, task: dict[str, Any], world: WorldState) -> tuple[bool | None, list[str]]:
        """Whether the request's goal holds on the world, and why; None when there is no goal to check."""
        ...


@dataclass
class Wave:
    """What System 1 did with one wave of ready steps."""

    outcomes: list[dict[str, Any]]
    snapshot: dict[str, Any]
    world: WorldState


class StepRunner(Protocol):
    """System 1 as the graph sees it (implemented in agent/, so planner/ never imports an executor)."""

    def world(self) -> WorldState: ...

    def run_wave(self, plan: Plan, done: set[str]) -> Wave: ...

    def workspace(self) -> Any:
        """What arm skills check reachability against (skills/reach.py Workspace), or None."""
        ...
