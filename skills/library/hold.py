"""hold(object, hand): keep a grasp steady while other skills run."""

from __future__ import annotations

from skills.library.common import arm_and_hand, need_holding
from skills.spec import CallContext, GraspableName, Hand, SkillArgs, SkillSpec, Verdict


class HoldArgs(SkillArgs):
    object: GraspableName
    hand: Hand = "right"


def _executor(env, a: HoldArgs):
    from skills.controllers import HoldExecutor

    return HoldExecutor(env, object=a.object, hand=a.hand)


def _judge(c: CallContext) -> Verdict | None:
    # A hold never ends on its own: the drop monitor fails it, preemption or the plan's end settles it.
    return None


def settle(c: CallContext) -> Verdict:
    """The verdict of a hold when it is preempted or the plan ends."""
    a: HoldArgs = c.args  # type: ignore[assignment]
    if c.world.robot.holding.get(a.hand) == a.object:
        return Verdict(
            "success", f"{a.object} held for {c.elapsed_s:.1f} s", {"held_s": round(c.elapsed_s, 3)}
        )
    return Verdict("failure", "dropped", {"object": a.object, "hand": a.hand})


SPEC = SkillSpec(
    name="hold",
    description="Keep an object already held in one hand steady (arm still, fingers closed) while other "
    "skills run, e.g. hold the flask with the left hand while the right hand pours into it, or carry a "
    "bottle while walking. It lasts until another skill needs that arm or the plan ends.",
    args=HoldArgs,
    resources=arm_and_hand,
    preconditions=lambda s, a: need_holding(s, a.hand, a.object),
    effects=lambda s, a: None,
    timeout_s=600.0,
    executor=_executor,
    judge=_judge,
    holds=lambda a: (a.hand, a.object),
    background=True,
)
