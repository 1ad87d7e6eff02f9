"""turn_to(target): rotate the base in place to face an object or a station's table."""

from __future__ import annotations

from skills.library.common import bearing_error_deg
from skills.spec import CallContext, ObjectName, SkillArgs, SkillSpec, Verdict

FACING_TOL_DEG = 5.0


class TurnToArgs(SkillArgs):
    target: ObjectName


def _executor(env, a: TurnToArgs):
    from skills.controllers.base_motion import TurnExecutor

    return TurnExecutor(env, target=a.target)


def _judge(c: CallContext) -> Verdict | None:
    args: TurnToArgs = c.args  # type: ignore[assignment]
    if not c.executor_finished:
        return None
    err = bearing_error_deg(c.world, args.target)
    if err <= FACING_TOL_DEG:
        return Verdict("success", f"facing {args.target}", {"heading_error_deg": round(err, 2)})
    return Verdict("failure", "not_facing", {"heading_error_deg": round(err, 2)})


SPEC = SkillSpec(
    name="turn_to",
    description="Rotate the robot in place until its front faces an object (e.g. the flask or a bottle). "
    "Useful to look at something beside the robot; walk_to already faces a station's table. At a table, "
    "step_back first: turning in place there sweeps the arms into its edge.",
    args=TurnToArgs,
    resources=lambda a: ("base", "left_leg", "right_leg", "waist"),
    preconditions=lambda s, a: [] if a.target in s.object_types else [f"unknown target '{a.target}'"],
    effects=lambda s, a: None,
    timeout_s=10.0,
    executor=_executor,
    judge=_judge,
)
