"""walk_to(station): move the base to a station's working pose."""

from __future__ import annotations

from skills.spec import CallContext, SkillArgs, SkillSpec, StationName, Verdict
from skills.symbolic import SymbolicState


class WalkToArgs(SkillArgs):
    station: StationName


def _effects(state: SymbolicState, a: WalkToArgs) -> None:
    state.robot_station = a.station


def _executor(env, a: WalkToArgs):
    from skills.controllers.base_motion import WalkToExecutor

    stations = env.scene.stations
    return WalkToExecutor(
        env, goal=env.working_pose(a.station), stations=[env.working_pose(s) for s in stations]
    )


def _judge(c: CallContext) -> Verdict | None:
    args: WalkToArgs = c.args  # type: ignore[assignment]
    if c.executor_finished and c.world.robot.station == args.station:
        return Verdict("success", f"at {args.station}", {"base_pose": c.world.robot.base_pose})
    return None


SPEC = SkillSpec(
    name="walk_to",
    description="Move the robot to a station (e.g. the bench or the shelf) and stop at its working pose, "
    "facing its table. Objects held in the hands are carried along; use it before pick/place/pour at "
    "another station. It backs away from the table it is at and steps in to the new one from behind, so "
    "held objects clear the tables. The embedded lab moves a holonomic base model, legs held in stance.",
    args=WalkToArgs,
    resources=lambda a: ("base", "left_leg", "right_leg", "waist"),
    preconditions=lambda s, a: [f"station '{a.station}' is blocked"] if a.station in s.blocked else [],
    effects=_effects,
    timeout_s=20.0,
    executor=_executor,
    judge=_judge,
)
