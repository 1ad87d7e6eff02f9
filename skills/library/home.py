"""home(arm): bring an arm (or both) back to the stand pose, clear of the table."""

from __future__ import annotations

from typing import Literal

import numpy as np

from envs.robots.g1.g1_constants import GROUP_JOINTS
from envs.robots.g1.g1_model import STAND_POSE
from skills.library.hands import sides
from skills.spec import CallContext, SkillArgs, SkillSpec, Verdict

HOME_TOL_RAD = 0.1


class HomeArgs(SkillArgs):
    arm: Literal["left", "right", "both"] = "both"


def home_pose(side: str) -> np.ndarray:
    return np.array([STAND_POSE.get(j, 0.0) for j in GROUP_JOINTS[f"{side}_arm"]])


def _executor(env, a: HomeArgs):
    from skills.controllers import HomeExecutor
    from skills.controllers.combined import Combined
    from skills.controllers.posture import WaistCenterExecutor

    # The stand pose includes a centred waist: with the torso turned, an arm at its stand angles
    # would rest on the table edge.
    return Combined([WaistCenterExecutor(env), *(HomeExecutor(env, arm=s) for s in sides(a.arm))])


def _judge(c: CallContext) -> Verdict | None:
    a: HomeArgs = c.args  # type: ignore[assignment]
    if not c.executor_finished:
        return None
    err = {
        s: round(float(np.abs(np.array(c.world.robot.joints[f"{s}_arm"]) - home_pose(s)).max()), 4)
        for s in sides(a.arm)
    }
    ok = all(v <= HOME_TOL_RAD for v in err.values())
    return Verdict("success" if ok else "failure", "home" if ok else "not_home", {"max_joint_error_rad": err})


SPEC = SkillSpec(
    name="home",
    description="Bring one arm, or both, back to the stand pose beside the body, lifting clear of the table "
    "first, and turn the waist back to straight ahead. The hand opens: call it with an empty hand unless "
    "dropping the object is intended.",
    args=HomeArgs,
    resources=lambda a: ("waist", *(g for s in sides(a.arm) for g in (f"{s}_arm", f"{s}_hand"))),
    preconditions=lambda s, a: [],
    effects=lambda s, a: None,
    # Planned motions run 7.6-8.2 s after a place on the shelf on legs (the lift, the swing beside the
    # body, the descent at the arm speed limit): 8 s timed out 15 of 32 runs' first home.
    timeout_s=12.0,
    executor=_executor,
    judge=_judge,
)
