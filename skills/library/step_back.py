"""step_back(distance_m): back away from the table in front of the robot."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from envs.geometry import moved_back
from skills.spec import CallContext, SkillArgs, SkillSpec, Verdict
from skills.symbolic import SymbolicState

TOL_M = 0.03


class StepBackArgs(SkillArgs):
    distance_m: Annotated[float, Field(gt=0, le=1.5)] = 0.4


def _effects(s: SymbolicState, a: StepBackArgs) -> None:
    s.robot_station = None


def _executor(env, a: StepBackArgs):
    from skills.controllers.base_motion import StepBackExecutor

    return StepBackExecutor(env, distance_m=a.distance_m, tolerance_m=TOL_M)


def _judge(c: CallContext) -> Verdict | None:
    a: StepBackArgs = c.args  # type: ignore[assignment]
    if not c.executor_finished:
        return None
    back = moved_back(c.start.robot.base_pose, c.world.robot.base_pose)
    ok = abs(back - a.distance_m) <= TOL_M
    return Verdict(
        "success" if ok else "failure",
        f"stepped back {back:.2f} m" if ok else "short",
        {"moved_back_m": round(back, 3)},
    )


SPEC = SkillSpec(
    name="step_back",
    description="Back away from the table in front of the robot by a distance (default 0.4 m), e.g. to "
    "stand clear of a reaction. Afterwards the robot is at no station; walk_to returns to one.",
    args=StepBackArgs,
    resources=lambda a: ("base", "left_leg", "right_leg", "waist"),
    preconditions=lambda s, a: [],
    effects=_effects,
    timeout_s=10.0,
    executor=_executor,
    judge=_judge,
)
