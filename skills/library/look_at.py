"""look_at(object): turn the waist so the torso (and its ego camera) faces an object."""

from __future__ import annotations

import math

from skills.spec import CallContext, ObjectName, SkillArgs, SkillSpec, Verdict

GAZE_TOL_DEG = 8.0


class LookAtArgs(SkillArgs):
    object: ObjectName


def gaze_error_deg(world, obj: str) -> float:
    """Angle between the torso's heading (base yaw + waist yaw) and the direction to the object."""
    x, y, yaw = world.robot.base_pose
    heading = yaw + world.robot.joints["waist"][0]
    p = world.objects[obj].pos
    want = math.atan2(p[1] - y, p[0] - x)
    return abs(math.degrees((want - heading + math.pi) % (2 * math.pi) - math.pi))


def _executor(env, a: LookAtArgs):
    from skills.controllers.posture import LookAtExecutor

    return LookAtExecutor(env, object=a.object)


def _judge(c: CallContext) -> Verdict | None:
    a: LookAtArgs = c.args  # type: ignore[assignment]
    if not c.executor_finished:
        return None
    err = gaze_error_deg(c.world, a.object)
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
