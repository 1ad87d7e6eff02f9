"""pour(source, target, volume_ml, hand): pour a measured volume from a held container into another."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from skills.library.common import arm_and_hand, need_at_station_of, need_holding
from skills.spec import CallContext, ContainerName, Hand, SkillArgs, SkillSpec, Verdict
from skills.symbolic import SymbolicState

ABS_TOL_ML = 5.0
REL_TOL = 0.10


class PourArgs(SkillArgs):
    source: ContainerName
    target: ContainerName
    volume_ml: Annotated[float, Field(gt=0, le=1000)]
    hand: Hand = "right"


def tolerance_ml(volume_ml: float) -> float:
    return max(ABS_TOL_ML, REL_TOL * volume_ml)


def _pre(s: SymbolicState, a: PourArgs) -> list[str]:
    problems = need_holding(s, a.hand, a.source) + need_at_station_of(s, a.target)
    if a.source == a.target:
        problems.append("source and target are the same container")
    have = sum(s.contents_ml.get(a.source, {}).values())
    if a.source in s.contents_ml and have + tolerance_ml(a.volume_ml) < a.volume_ml:
        problems.append(f"'{a.source}' holds {have:.0f} ml, less than the {a.volume_ml:.0f} ml asked")
    return problems


def _effects(s: SymbolicState, a: PourArgs) -> None:
    src = s.contents_ml.setdefault(a.source, {})
    total = sum(src.values())
    frac = min(1.0, a.volume_ml / total) if total > 0 else 0.0
    dst = s.contents_ml.setdefault(a.target, {})
    for liq, v in list(src.items()):
        dst[liq] = dst.get(liq, 0.0) + v * frac
        src[liq] = v * (1 - frac)


def _executor(env, a: PourArgs):
    from skills.controllers import PourExecutor

    return PourExecutor(env, source=a.source, target=a.target, volume_ml=a.volume_ml, hand=a.hand)


def _judge(c: CallContext) -> Verdict | None:
    a: PourArgs = c.args  # type: ignore[assignment]
    if not c.executor_finished:
        return None
    got = c.world.containers[a.target].received_ml - c.start.containers[a.target].received_ml
    evidence = {
        "asked_ml": a.volume_ml,
        "received_ml": round(got, 2),
        "tolerance_ml": tolerance_ml(a.volume_ml),
    }
    if abs(got - a.volume_ml) <= tolerance_ml(a.volume_ml):
        return Verdict("success", f"{got:.1f} ml into {a.target}", evidence)
    return Verdict("failure", "too_little" if got < a.volume_ml else "too_much", evidence)


SPEC = SkillSpec(
    name="pour",
    description="Pour a measured volume (ml) from a container held in one hand into another container "
    "standing on the table in front of the robot (e.g. 60 ml of hydrogen peroxide into the flask), then "
    "bring the source upright. Succeeds when the target received the volume within max(5 ml, 10%).",
    args=PourArgs,
    resources=arm_and_hand,
    preconditions=_pre,
    effects=_effects,
    timeout_s=20.0,
    executor=_executor,
    judge=_judge,
    holds=lambda a: (a.hand, a.source),
)
