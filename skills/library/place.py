"""place(object, location, hand): put a held object down on a station's table, a zone or a tray."""

from __future__ import annotations

import math

from skills.library.common import arm_and_hand, need_holding
from skills.spec import CallContext, GraspableName, Hand, LocationName, SkillArgs, SkillSpec, Verdict
from skills.symbolic import SymbolicState

PLACE_TOL_M = 0.04
UPRIGHT_DEG = 20.0


class PlaceArgs(SkillArgs):
    object: GraspableName
    location: LocationName
    hand: Hand = "right"


def _pre(s: SymbolicState, a: PlaceArgs) -> list[str]:
    where = s.station_of_location(a.location)
    problems = need_holding(s, a.hand, a.object)
    if where != s.robot_station:
        problems.append(
            f"'{a.location}' is at {where} but the robot is at {s.robot_station}: walk_to {where} first"
        )
    return problems


def _effects(s: SymbolicState, a: PlaceArgs) -> None:
    s.holding[a.hand] = None
    s.object_station[a.object] = s.station_of_location(a.location)


def _executor(env, a: PlaceArgs):
    from skills.controllers import PlaceExecutor

    return PlaceExecutor(env, object=a.object, location=a.location, hand=a.hand)


def _judge(c: CallContext) -> Verdict | None:
    a: PlaceArgs = c.args  # type: ignore[assignment]
    if not c.executor_finished:
        return None
    obj = c.world.objects[a.object]
    evidence: dict = {"pos": obj.pos, "tilt_deg": obj.tilt_deg, "held_by": obj.held_by}
    if obj.held_by is not None:
        return Verdict("failure", "not_released", evidence)
    if obj.tilt_deg > UPRIGHT_DEG:
        return Verdict("failure", "toppled", evidence)
    if a.location in c.world.objects:  # a zone or a tray
        loc = c.world.objects[a.location]
        dist = math.hypot(obj.pos[0] - loc.pos[0], obj.pos[1] - loc.pos[1])
        evidence["distance_m"] = round(dist, 4)
        ok = obj.in_zone == a.location if loc.type == "zone" else dist <= PLACE_TOL_M
    else:
        ok = obj.station == a.location
    if ok:
        return Verdict("success", f"{a.object} placed at {a.location}", evidence)
    return Verdict("failure", "misplaced", evidence)


SPEC = SkillSpec(
    name="place",
    description="Put an object held in one hand down at a location and let go: a station's table (a free "
    "spot in front of the robot), a zone painted on the table (e.g. yellow_zone) or a tray. The robot "
    "must be at the location's station.",
    args=PlaceArgs,
    resources=arm_and_hand,
    preconditions=_pre,
    effects=_effects,
    timeout_s=12.0,
    executor=_executor,
    judge=_judge,
)
