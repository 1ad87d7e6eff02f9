"""wave(arm, seconds): wave an arm, run by a chunked policy off the control thread.

The skill exists to exercise the learned/remote executor path (ChunkedPolicyExecutor) with a tiny
policy; a GR00T client plugs into the same executor.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from skills.spec import CallContext, SkillArgs, SkillSpec, Verdict

RAISED_RAD = 0.1


class WaveArgs(SkillArgs):
    arm: Literal["left", "right"] = "left"
    seconds: Annotated[float, Field(gt=0, le=30)] = 2.0
    latency_s: Annotated[float, Field(ge=0, le=2)] = Field(
        0.0, description="simulated inference latency (wall s)"
    )


def _executor(env, a: WaveArgs):
    from skills.controllers.trajectory import MAX_JOINT_SPEED
    from skills.policies.chunked import ChunkedPolicyExecutor, SpeedLimit
    from skills.policies.wave import WavePolicy

    arm = f"{a.arm}_arm"
    return ChunkedPolicyExecutor(
        WavePolicy(a.arm, latency_s=a.latency_s, dt=env.control_dt),
        steps=round(a.seconds / env.control_dt),
        limits={arm: SpeedLimit(env.embodiment.groups[arm].state_index, MAX_JOINT_SPEED)},
    )


def _judge(c: CallContext) -> Verdict | None:
    a: WaveArgs = c.args  # type: ignore[assignment]
    if not c.executor_finished:
        return None
    raised = abs(c.world.robot.joints[f"{a.arm}_arm"][1] - c.start.robot.joints[f"{a.arm}_arm"][1])
    ok = raised > RAISED_RAD
    return Verdict(
        "success" if ok else "failure",
        "waved" if ok else "arm_did_not_move",
        {"shoulder_roll_change_rad": round(raised, 3)},
    )


SPEC = SkillSpec(
    name="wave",
    description="Wave one arm for a few seconds (a greeting). The arm stays raised at the end; "
    "home lowers it.",
    args=WaveArgs,
    resources=lambda a: (f"{a.arm}_arm",),
    preconditions=lambda s, a: (
        [f"the {a.arm} hand holds '{s.holding[a.arm]}'"] if s.holding.get(a.arm) else []
    ),
    effects=lambda s, a: None,
    timeout_s=40.0,
    executor=_executor,
    judge=_judge,
)
