"""open_hand(hand) and close_hand(hand): the Dex3 fingers alone; ``both`` moves both hands."""

from __future__ import annotations

from typing import Literal

import numpy as np

from envs.robots.g1.g1_constants import finger_pose
from skills.spec import CallContext, SkillArgs, SkillSpec, Verdict
from skills.symbolic import SymbolicState

CLOSURE_TOL = 0.15  # fraction of the open-to-closed finger travel


class HandArgs(SkillArgs):
    hand: Literal["left", "right", "both"] = "right"


def sides(hand: str) -> tuple[str, ...]:
    return ("left", "right") if hand == "both" else (hand,)


def closure(joints: list[float], side: str) -> float:
    """0 = open pose, 1 = closed pose: mean fraction of travel over the fingers that move."""
    o, c = np.array(finger_pose(side, False)), np.array(finger_pose(side, True))
    moving = np.abs(c - o) > 1e-6
    return float(np.mean(((np.asarray(joints) - o) / np.where(moving, c - o, 1.0))[moving]))


def _make(closed: bool):
    def executor(env, a: HandArgs):
        from skills.controllers import HandExecutor
        from skills.controllers.combined import Combined

        return Combined([HandExecutor(env, hand=s, closed=closed) for s in sides(a.hand)])

    def judge(c: CallContext) -> Verdict | None:
        a: HandArgs = c.args  # type: ignore[assignment]
        if not c.executor_finished:
            return None
        got = {s: round(closure(c.world.robot.joints[f"{s}_hand"], s), 3) for s in sides(a.hand)}
        if closed:
            # A hand closed on an object stops short of the closed pose: it is closed when it holds one.
            ok = all(v >= 1 - CLOSURE_TOL or c.world.robot.holding.get(s) for s, v in got.items())
        else:
            ok = all(v <= CLOSURE_TOL for v in got.values())
        word = "closed" if closed else "open"
        return Verdict("success" if ok else "failure", word if ok else f"not_{word}", {"closure": got})

    return executor, judge


def _open_effects(s: SymbolicState, a: HandArgs) -> None:
    for side in sides(a.hand):
        obj = s.holding.get(side)
        if obj is not None:
            s.object_station[obj] = s.robot_station
        s.holding[side] = None


_open_exec, _open_judge = _make(False)
_close_exec, _close_judge = _make(True)

OPEN_SPEC = SkillSpec(
    name="open_hand",
    description="Open the fingers of one hand (or both). Whatever the hand held is released where it is.",
    args=HandArgs,
    resources=lambda a: tuple(f"{s}_hand" for s in sides(a.hand)),
    preconditions=lambda s, a: [],
    effects=_open_effects,
    timeout_s=3.0,
    executor=_open_exec,
    judge=_open_judge,
)
CLOSE_SPEC = SkillSpec(
    name="close_hand",
    description="Close the fingers of one hand (or both) into a grip, without moving the arm.",
    args=HandArgs,
    resources=lambda a: tuple(f"{s}_hand" for s in sides(a.hand)),
    preconditions=lambda s, a: [],
    effects=lambda s, a: None,
    timeout_s=3.0,
    executor=_close_exec,
    judge=_close_judge,
)
