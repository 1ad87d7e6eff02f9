"""The failure reasons of skill calls: one small vocabulary, each with what repeating the call can do.

Judges (skills/library) and monitors (agent/monitors) report only these names; the planner graph's
reflect reads ``then`` to decide: retry the same call, repair or replan, ask a person, or finish. A
reason that repetition cannot fix is never retried as if it were bad luck. docs/planning.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Then = Literal["retry", "repair", "replan", "ask_user", "finish", "fatal"]


@dataclass(frozen=True)
class Reason:
    name: str
    meaning: str
    then: Then


_ALL = (
    # Before or at the start of a call: the motion cannot exist, so the same call fails the same way.
    Reason(
        "unreachable", "no arm pose within the joint limits and the torso bound reaches the target", "repair"
    ),
    # Judged from physics at the end of a call: contact and pose noise, worth one more try.
    Reason("not_grasped", "the hand closed but does not hold the object", "retry"),
    Reason("not_lifted", "the object is held but was not lifted 5 cm", "retry"),
    Reason("not_released", "the object is still in the hand after place", "retry"),
    Reason("misplaced", "the object came to rest outside the target", "retry"),
    Reason("not_on_surface", "the placed object is not standing on the target's surface", "retry"),
    Reason("toppled", "the placed object is not upright", "retry"),
    Reason("not_facing", "the base does not face the target after turn_to", "retry"),
    Reason("not_open", "the fingers did not open", "retry"),
    Reason("not_closed", "the fingers did not close", "retry"),
    Reason("not_home", "an arm did not reach the stand pose", "retry"),
    Reason("arm_did_not_move", "wave: the arm did not swing", "retry"),
    Reason("short", "step_back moved less than asked", "retry"),
    # The waist turns only so far: looking again from the same spot cannot see further round.
    Reason("out_of_reach", "look_at: the object is beyond the torso's turn", "replan"),
    Reason("timeout", "the call ran past its time budget", "retry"),
    # Repeating the same call would pour the whole volume again on top of what arrived: plan the rest.
    Reason("too_little", "the target received less than asked (beyond tolerance)", "replan"),
    # The world changed under the plan: expand it again from the world as it is.
    Reason("dropped", "a held object left the hand", "repair"),
    Reason("blocked", "the base stalled: something is in the way", "ask_user"),
    Reason("too_much", "the target received more than asked", "finish"),
    Reason("spill", "more than 10 ml was spilled during the call", "finish"),
    Reason("table_collision", "the robot pushed hard on a table", "finish"),
    # A server that times out or answers the wrong shapes needs a person, not the same request again.
    Reason("policy_error", "a learned or remote policy could not answer (timeout, bad reply)", "finish"),
    Reason("fell", "the robot fell", "fatal"),
    Reason("unstable", "the simulation went unstable (NaN, blow-up)", "fatal"),
)
REASONS: dict[str, Reason] = {r.name: r for r in _ALL}

UNREACHABLE = "unreachable"
NOT_GRASPED = "not_grasped"
NOT_LIFTED = "not_lifted"
NOT_RELEASED = "not_released"
MISPLACED = "misplaced"
NOT_ON_SURFACE = "not_on_surface"
TOPPLED = "toppled"
NOT_FACING = "not_facing"
TIMEOUT = "timeout"
TOO_LITTLE = "too_little"
TOO_MUCH = "too_much"
DROPPED = "dropped"
BLOCKED = "blocked"
SPILL = "spill"
TABLE_COLLISION = "table_collision"
FELL = "fell"
UNSTABLE = "unstable"
POLICY_ERROR = "policy_error"


def then(reason: str) -> Then:
    """What to do about a failure; an unknown reason (a new judge) gets one retry."""
    r = REASONS.get(reason)
    return r.then if r else "retry"


def reasons_with(action: Then) -> frozenset[str]:
    return frozenset(r.name for r in _ALL if r.then == action)
