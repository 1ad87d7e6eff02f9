"""pick(object, hand): grasp an object on the table and lift it."""

from __future__ import annotations

from skills.library.common import arm_and_hand, need_at_station_of, need_hand_free
from skills.spec import CallContext, GraspableName, Hand, SkillArgs, SkillSpec, Verdict
from skills.symbolic import SymbolicState

LIFT_M = 0.08  # the executor lifts the hand 11 cm; the description promises about 10 cm


class PickArgs(SkillArgs):
    object: GraspableName
    hand: Hand = "right"


def _pre(s: SymbolicState, a: PickArgs) -> list[str]:
    if s.hand_of(a.object) is not None:
        return [f"'{a.object}' is already held by the {s.hand_of(a.object)} hand"]
    return need_hand_free(s, a.hand) + need_at_station_of(s, a.object)


def _effects(s: SymbolicState, a: PickArgs) -> None:
    s.holding[a.hand] = a.object
    s.object_station[a.object] = None


def _reachable(workspace, s: SymbolicState, a: PickArgs) -> list[str]:
    from skills.reach import pick_problems

    return pick_problems(workspace, s.robot_station, a.object, a.hand) if s.robot_station else []


def _executor(env, a: PickArgs):
    from skills.controllers import PickExecutor

    return PickExecutor(env, object=a.object, hand=a.hand)


def _judge(c: CallContext) -> Verdict | None:
    a: PickArgs = c.args  # type: ignore[assignment]
    held = c.world.robot.holding.get(a.hand) == a.object
    lift = c.world.objects[a.object].pos[2] - c.start.objects[a.object].pos[2]
    evidence = {"held": held, "lift_m": round(lift, 4)}
    if held and lift >= LIFT_M and c.executor_finished:
        return Verdict("success", f"{a.object} held in the {a.hand} hand", evidence)
    if c.executor_finished:
        return Verdict("failure", "not_grasped" if not held else "not_lifted", evidence)
    return None


SPEC = SkillSpec(
    name="pick",
    description="Grasp an object standing on the table in front of the robot with one hand and lift it "
    "about 10 cm (judged lifted at 8 cm). Bottles, cups, the flask and the graduated cylinder are taken "
    "with a side grasp, the block with a pinch from above. The robot must be at the object's station and "
    "the hand empty.",
    args=PickArgs,
    resources=arm_and_hand,
    preconditions=_pre,
    effects=_effects,
    timeout_s=12.0,
    executor=_executor,
    judge=_judge,
    reachable=_reachable,
)
