"""Expansion: a recipe and its parameters, from a symbolic state, to the skill calls still needed.

Items are expanded in order against a copy of the state that each emitted call's effects update, so
guards see the world as it will be at that point of the plan: starting from the current world (after a
drop, a failure, a resume) only what is still missing is emitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from envs.validation import format_validation_error
from planner.offline.lang import ExpansionError, Scope, evaluate
from planner.offline.recipes import Item, Library
from skills.registry import get_skill
from skills.symbolic import SymbolicState

MAX_DEPTH = 12  # task calls nested deeper than this are a loop in the recipe files


@dataclass(frozen=True)
class SkillCall:
    skill: str
    args: dict[str, Any]


def expand(
    library: Library,
    recipe: str,
    params: Mapping[str, Any],
    state: SymbolicState,
    lateral: Mapping[str, float],
    avoid: Mapping[str, set[str]] | None = None,
) -> list[SkillCall]:
    """The calls that reach the recipe's goal from ``state`` (left unchanged); ``avoid`` maps objects to
    hands found unable to reach them."""
    sim = state.copy()
    out: list[SkillCall] = []
    scope = Scope(params, sim, lateral, avoid or {})
    _items(library, library.recipes[recipe].do, scope, out, f"recipes.{recipe}.do", 0)
    return out


def _items(
    library: Library, items: list[Item], scope: Scope, out: list[SkillCall], path: str, depth: int
) -> None:
    if depth > MAX_DEPTH:
        raise ExpansionError(f"{path}: tasks nested more than {MAX_DEPTH} deep; do they call each other?")
    for i, item in enumerate(items):
        here = f"{path}.{i}"
        if not all(c.holds(scope) for c in item.when) or any(c.holds(scope) for c in item.unless):
            continue
        args = {k: evaluate(v, scope) for k, v in item.args.items()}
        unknown = [k for k, v in args.items() if v is None]
        if unknown:
            shown = ", ".join(f"{k}={item.args[k]}" for k in unknown)
            raise ExpansionError(f"{here}: cannot tell {shown} in the current state")
        if item.skill is not None:
            out.append(_emit(item.skill, args, scope, here))
        elif item.task is not None:
            task = library.tasks[item.task]
            bound = {**{k: d for k, d in task.params.items() if d is not None}, **args}
            _items(
                library,
                task.do,
                Scope(bound, scope.state, scope.lateral, scope.avoid),
                out,
                f"tasks.{item.task}.do",
                depth + 1,
            )
        else:
            _items(library, item.do or [], scope, out, f"{here}.do", depth + 1)


def _emit(skill: str, args: dict[str, Any], scope: Scope, where: str) -> SkillCall:
    spec = get_skill(skill)
    try:
        parsed = spec.parse_args(args)
    except ValidationError as e:
        raise ExpansionError(f"{where}: {skill}:\n{format_validation_error(e, '    ')}") from None
    assert scope.state is not None
    spec.effects(scope.state, parsed)
    return SkillCall(skill, args)
