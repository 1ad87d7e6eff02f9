"""place(object, location, hand): put a held object down on a station's table, a zone or a tray."""

from __future__ import annotations

import math

from skills.library.common import arm_and_hand, need_holding
from skills.spec import CallContext, GraspableName, Hand, LocationName, SkillArgs, SkillSpec, Verdict
from skills.symbolic import SymbolicState

PLACE_TOL_M = 0.04  # m from a tray's centre
UPRIGHT_DEG = 20.0
REST_SPEED = 0.01  # m/s: slower than this the placed object counts as at rest


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
    """Placed: let go, upright, at rest, standing on the target's surface (its station's table, the tray)
    and inside the target (a zone's square, within PLACE_TOL_M of a tray's centre, over a station's table)."""
    a: PlaceArgs = c.args  # type: ignore[assignment]
    if not c.executor_finished:
        return None
    obj = c.world.objects[a.object]
    evidence: dict = {
        "pos": obj.pos,
        "tilt_deg": obj.tilt_deg,
        "held_by": obj.held_by,
        "resting_on": obj.resting_on,
        "speed": obj.speed,
    }
    if obj.held_by is not None:
        return Verdict("failure", "not_released", evidence)
    if obj.tilt_deg > UPRIGHT_DEG:
        return Verdict("failure", "toppled", evidence)
    if obj.speed > REST_SPEED:
        return None  # still moving: judged once it comes to rest (or the call times out)
    loc = c.world.objects.get(a.location)
    if loc is None:  # a station
        surface, inside = a.location, obj.station == a.location
    elif loc.type == "zone":
        surface, inside = loc.station, obj.in_zone == a.location
    else:  # a tray
        dist = math.hypot(obj.pos[0] - loc.pos[0], obj.pos[1] - loc.pos[1])
        evidence["distance_m"] = round(dist, 4)
        surface, inside = a.location, dist <= PLACE_TOL_M
    if loc is not None and "distance_m" not in evidence:
        evidence["distance_m"] = round(math.hypot(obj.pos[0] - loc.pos[0], obj.pos[1] - loc.pos[1]), 4)
    if obj.resting_on != surface:
        return Verdict("failure", "not_on_surface", evidence)
    if inside:
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
