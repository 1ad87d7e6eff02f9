"""look_at(object): turn the waist so the torso (and its ego camera) faces an object."""

from __future__ import annotations

from skills.library.common import bearing_error_deg
from skills.spec import CallContext, ObjectName, SkillArgs, SkillSpec, Verdict

GAZE_TOL_DEG = 8.0


class LookAtArgs(SkillArgs):
    object: ObjectName


def _executor(env, a: LookAtArgs):
    from skills.controllers.posture import LookAtExecutor

    return LookAtExecutor(env, object=a.object)


def _judge(c: CallContext) -> Verdict | None:
    a: LookAtArgs = c.args  # type: ignore[assignment]
    if not c.executor_finished:
        return None
    err = bearing_error_deg(c.world, a.object, extra_yaw=c.world.robot.joints["waist"][0])  # torso heading
    ok = err <= GAZE_TOL_DEG
    return Verdict(
        "success" if ok else "failure",
        f"looking at {a.object}" if ok else "out_of_reach",
        {"gaze_error_deg": round(err, 2)},
    )


SPEC = SkillSpec(
    name="look_at",
    description="Turn the waist (yaw and pitch) so the torso and its ego camera face an object within reach "
    "of the waist's range; the base does not move. Use turn_to for objects behind the robot.",
    args=LookAtArgs,
    resources=lambda a: ("waist",),
    preconditions=lambda s, a: [],
    effects=lambda s, a: None,
    timeout_s=5.0,
    executor=_executor,
    judge=_judge,
)
