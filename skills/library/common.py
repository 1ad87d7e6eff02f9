"""Checks shared by several skills' preconditions and judges."""

from __future__ import annotations

import math

from envs.base import WorldState
from skills.symbolic import SymbolicState


def need_at_station_of(state: SymbolicState, obj: str) -> list[str]:
    """The object must be at the station where the robot stands."""
    where = state.object_station.get(obj) or state.station_of_location(obj)
    if state.hand_of(obj) is not None:
        return []
    if where is None:
        return [f"'{obj}' is not at any station"]
    if where != state.robot_station:
        here = state.robot_station or "no station"
        return [f"'{obj}' is at {where} but the robot is at {here}: walk_to {where} first"]
    return []


def need_holding(state: SymbolicState, hand: str, obj: str) -> list[str]:
    held = state.holding.get(hand)
    if held != obj:
        return [f"the {hand} hand must hold '{obj}' (it holds {held or 'nothing'}): pick it first"]
    return []


def need_hand_free(state: SymbolicState, hand: str) -> list[str]:
    held = state.holding.get(hand)
    return [f"the {hand} hand already holds '{held}': place it first"] if held else []


def bearing_error_deg(world: WorldState, obj: str, extra_yaw: float = 0.0) -> float:
    """Angle between the robot's heading (base yaw + ``extra_yaw``, e.g. the waist) and the object."""
    x, y, yaw = world.robot.base_pose
    p = world.objects[obj].pos
    want = math.atan2(p[1] - y, p[0] - x)
    return abs(math.degrees((want - yaw - extra_yaw + math.pi) % (2 * math.pi) - math.pi))


def arm_and_hand(args) -> tuple[str, str]:
    """The joint groups of the one hand a call uses."""
    return (f"{args.hand}_arm", f"{args.hand}_hand")
