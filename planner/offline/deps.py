"""Dependencies between expanded skill calls, so that independent ones run together.

A call waits for the latest earlier call that claims one of its joint groups or names one of its objects,
locations or containers, and for the latest base move. A base move (walk_to, turn_to, step_back) waits
for every earlier call except background holds, which are meant to run beside it (carrying). A
background hold waits for every earlier call too, so it starts in the same wave as the walk it carries
through: a hold started beside an earlier call (the soap pour) ended with that call's wave, and on legs the
walker then swung the unclaimed arm and its bottle. Edges implied by others are dropped, so each
``after`` lists only direct predecessors.
"""

from __future__ import annotations

from collections.abc import Collection

from planner.offline.htn import SkillCall
from planner.schema import Step
from skills.registry import get_skill

BASE_GROUPS = frozenset({"base", "left_leg", "right_leg"})
MAX_ID = 40
_SUBJECT_ARGS = ("object", "source", "station", "target", "arm", "hand")


def link(calls: list[SkillCall], names: Collection[str]) -> list[Step]:
    """Steps with readable ids and ``after`` lists; ``names`` are the scene's object and station names."""
    deps: list[set[int]] = []
    background: list[bool] = []
    last_user: dict[str, int] = {}  # joint group or scene name -> latest call that used it
    last_base: int | None = None
    for i, call in enumerate(calls):
        spec = get_skill(call.skill)
        groups = set(spec.resources(spec.parse_args(call.args)))
        keys = groups | {v for v in call.args.values() if isinstance(v, str) and v in names}
        is_base = bool(groups & BASE_GROUPS)
        if is_base or spec.background:
            d = {j for j in range(i) if not background[j]}
        else:
            d = {last_user[k] for k in keys if k in last_user} | (
                {last_base} if last_base is not None else set()
            )
        if is_base:
            last_base = i
        for k in keys:
            last_user[k] = i
        deps.append(d)
        background.append(spec.background)
    ids = [_step_id(i, c) for i, c in enumerate(calls)]
    return [
        Step(id=ids[i], skill=c.skill, args=c.args, after=[ids[j] for j in sorted(d)])
        for i, (c, d) in enumerate(zip(calls, _reduce(deps), strict=True))
    ]


def _reduce(deps: list[set[int]]) -> list[set[int]]:
    """Transitive reduction (deps only point backwards, so one forward pass suffices)."""
    ancestors: list[set[int]] = []
    reduced: list[set[int]] = []
    for d in deps:
        ancestors.append(set().union(*({j} | ancestors[j] for j in d)) if d else set())
        reduced.append({j for j in d if not any(j in ancestors[k] for k in d if k != j)})
    return reduced


def _step_id(i: int, call: SkillCall) -> str:
    subject = next((str(call.args[a]) for a in _SUBJECT_ARGS if a in call.args), "")
    return "_".join(p for p in (f"s{i + 1}", call.skill, subject) if p)[:MAX_ID]
