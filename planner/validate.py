"""Plan validation against the skill registry, the scene and the symbolic world.

Reports every problem with the step id: unknown skill, bad arguments, unknown or cyclic dependencies,
and symbolic preconditions that do not hold when the plan is followed in dependency order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from envs.predicates import check_params
from envs.validation import format_validation_error
from planner.schema import Plan
from skills.registry import get_skill
from skills.spec import SceneNames
from skills.symbolic import SymbolicState

IssueKind = Literal[
    "unknown_skill",
    "bad_args",
    "duplicate_id",
    "unknown_dependency",
    "cycle",
    "precondition",
    "unreachable",
    "unknown_predicate",
    "bad_goal",
    "contrary",
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
    plan: Plan,
    scene: SceneNames,
    state: SymbolicState,
    done: set[str] | None = None,
    workspace: Any = None,
) -> list[PlanIssue]:
    """All problems found; empty when the plan may run. Steps in ``done`` already ran.

    With a ``workspace`` (skills/reach.py: the env and the world as it is), each step whose symbolic
    preconditions hold is also checked for reachability, unless an earlier step moved its object (its
    pose is not known until then).
    """
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
    issues.extend(goal_issues(plan, scene))
    sim = state.copy()
    moved: set[str] = set()
    for step_id in order:
        if step_id in done:
            continue
        spec, args = parsed[step_id]
        problems = spec.preconditions(sim, args)
        for problem in problems:
            issues.append(PlanIssue(step_id, "precondition", f"{spec.name}: {problem}"))
        checkable = workspace is not None and spec.reachable is not None and not problems
        if checkable and not moved & set(_names(args)):
            for problem in spec.reachable(workspace, sim, args):
                issues.append(PlanIssue(step_id, "unreachable", problem))
        before = (dict(sim.object_station), dict(sim.holding))
        spec.effects(sim, args)
        moved |= {o for o, st in sim.object_station.items() if before[0].get(o, st) != st}
    return issues


def _names(args: Any) -> list[str]:
    return [v for v in args.model_dump().values() if isinstance(v, str)]


# Goal predicate parameters that name something in the scene, and which names they take.
_GOAL_NAMES = {"object": "objects", "container": "containers", "station": "stations", "zone": "zones"}


def goal_issues(plan: Plan, scene: SceneNames) -> list[PlanIssue]:
    """The plan's goal predicates (envs/predicates.py): known, with fitting parameters and scene names."""
    out = []
    for i, g in enumerate(plan.goal):
        where = f"goal[{i}] {g.predicate}"
        try:
            check_params(g.predicate, g.params)
        except KeyError as e:
            out.append(PlanIssue(None, "unknown_predicate", f"{where}: {e.args[0]}"))
            continue
        except ValueError as e:
            out.append(PlanIssue(None, "bad_goal", f"{where}: {e}"))
            continue
        for key, kind in _GOAL_NAMES.items():
            value = g.params.get(key)
            names = _scene_names(scene, kind)
            if value is not None and value not in names:
                out.append(
                    PlanIssue(None, "bad_goal", f"{where}: {key} '{value}' is not one of {', '.join(names)}")
                )
    return out


def _scene_names(scene: SceneNames, kind: str) -> list[str]:
    if kind == "zones":
        return sorted(n for n, t in scene.objects.items() if t == "zone")
    return scene.names_of(kind)
