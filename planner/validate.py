"""Plan validation against the skill registry, the scene and the symbolic world.

Reports every problem with the step id: unknown skill, bad arguments, unknown or cyclic dependencies,
and symbolic preconditions that do not hold when the plan is followed in dependency order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from envs.validation import format_validation_error
from planner.schema import Plan
from skills.registry import get_skill
from skills.spec import SceneNames
from skills.symbolic import SymbolicState

IssueKind = Literal[
    "unknown_skill", "bad_args", "duplicate_id", "unknown_dependency", "cycle", "precondition"
]


@dataclass(frozen=True)
class PlanIssue:
    step_id: str | None
    kind: IssueKind
    message: str

    def __str__(self) -> str:
        where = f"step '{self.step_id}'" if self.step_id else "plan"
        return f"{where}: {self.kind}: {self.message}"


def dependency_order(plan: Plan) -> tuple[list[str], list[PlanIssue]]:
    """Step ids in an order that respects ``after`` (listing order breaks ties), and any cycle."""
    ids = [s.id for s in plan.steps]
    after = {s.id: [d for d in s.after if d in ids] for s in plan.steps}
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(ids):
        ready = [i for i in ids if i not in done and all(d in done for d in after[i])]
        if not ready:
            stuck = [i for i in ids if i not in done]
            return order, [PlanIssue(stuck[0], "cycle", f"steps {stuck} wait for each other")]
        order.append(ready[0])
        done.add(ready[0])
    return order, []


def validate_plan(
    plan: Plan, scene: SceneNames, state: SymbolicState, done: set[str] | None = None
) -> list[PlanIssue]:
    """All problems found; empty when the plan may run. Steps in ``done`` already ran."""
    issues: list[PlanIssue] = []
    done = done or set()
    seen: set[str] = set()
    parsed = {}
    for step in plan.steps:
        if step.id in seen:
            issues.append(PlanIssue(step.id, "duplicate_id", "two steps share this id"))
        seen.add(step.id)
        for dep in step.after:
            if dep not in {s.id for s in plan.steps}:
                issues.append(
                    PlanIssue(step.id, "unknown_dependency", f"'after' names '{dep}', which is not a step")
                )
        try:
            spec = get_skill(step.skill)
        except KeyError as e:
            issues.append(PlanIssue(step.id, "unknown_skill", e.args[0]))
            continue
        try:
            parsed[step.id] = (spec, spec.parse_args(step.args, scene))
        except ValidationError as e:
            issues.append(
                PlanIssue(step.id, "bad_args", f"{step.skill}:\n{format_validation_error(e, '    ')}")
            )
    order, cycle = dependency_order(plan)
    issues.extend(cycle)
    if issues:
        return issues
    sim = state.copy()
    for step_id in order:
        if step_id in done:
            continue
        spec, args = parsed[step_id]
        for problem in spec.preconditions(sim, args):
            issues.append(PlanIssue(step_id, "precondition", f"{spec.name}: {problem}"))
        spec.effects(sim, args)
    return issues
