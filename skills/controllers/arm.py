"""Scripted arm executors: the shared base (IK + scripted playback) and the simple ones (hold, hand, home)."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from envs.base import Observation, WorldState
from envs.robots.g1 import g1_constants as g1
from envs.robots.g1.g1_model import STAND_POSE
from envs.scene_schema import ObjectType
from skills.controllers.grasps import mirror, pinch_finger, pinch_pose, rot_z, side_grasp_rot
from skills.controllers.ik import ArmIK
from skills.controllers.trajectory import JointPath, Script, Step
from skills.controllers.variation import current_variation
from skills.executor import GroupCommand

LINE_STEP = 0.015  # m between IK points on a straight hand move
IK_TOL = 0.008  # m; a target missed by more is unreachable (grasps tolerate 1-2 cm)
VIA_LOCAL = (0.06, 0.27)  # via point beside the body: x forward, y outward (pelvis frame)
OVER_TABLE_X = 0.10  # hand site further forward than this (pelvis frame) may be over a table
HOME_SWING_BACK = 0.3  # rad the shoulder pitches back before home's last move in from a hand at the side
HOME_EDGE_PITCH = 0.06  # rad the shoulder pitches back of the stand pose (home allows 0.1) by a table edge
HOME_EDGE_WRIST = 0.07  # rad of wrist pitch then
HOME_SETTLE_S = 0.3  # s home holds the stand pose at its end
HAND_S = 0.5  # seconds to open or close the fingers without the arm moving
# Where a hold on legs carries its object while the robot walks: the hand site x forward, y outward of the
# pelvis, z above the floor, as held (upright). It is close to the walker's own arm pose (elbow bent, hand
# by the hip), which the walker is told the arm is in: held out front where it was picked, or tucked at
# chest height, the Playground walker could not back away from the shelf (docs/locomotion.md).
CARRY_LOCAL = (0.15, 0.22, 0.78)
# With both hands loaded the hands come in to this (pelvis frame x): the load ahead of the pelvis is what
# this walker answers with forward drift (docs/locomotion.md, "Where it stands still"), and carrying both
# bottles at 0.15 it ran forward and fell or timed out holding off the goal.
CARRY_BOTH_X = 0.10
CARRY_S = 1.5  # s, the least the move into the carry pose takes
CARRY_HEADING = np.radians(20)  # how far the carried hand's fingers may point off straight ahead
# Where the carried hand may stop backing off at its height before it comes down (pelvis-frame x beyond the
# carry pose's, m; first that reaches wins). Straight back into the chest from a pour's height, the arm
# could not fold (IK 8 mm short, 2 of 20 seeds): the walk then started with a bottle held out front and
# lurched into the bench. From further out the hand comes down and in on a diagonal, behind the table's
# edge by the time the bottle passes the tabletop's height.
CARRY_BACK_X = (0.0, 0.10, 0.15)
BACK_OFF_M = 0.06  # how far a carried hand backs off the tabletop's face before it rises (its fingers' reach)


class Unreachable(RuntimeError):
    """No arm configuration puts the hand where the skill needs it."""


def side_of(name: str) -> str:
    """``right`` / ``right_arm`` / ``right_hand`` -> ``right``."""
    side = name.split("_")[0]
    if side not in g1.HANDS:
        raise ValueError(f"expected a hand or arm name (left/right), got {name!r}")
    return side


class ScriptedArm:
    """Base of the arm executors: plans a ``Script`` at reset, then plays it tick by tick.

    Subclasses implement ``plan``. Helpers give IK chains for straight hand moves in the world.
    """

    def __init__(self, env, hand: str) -> None:
        self.env = env
        self.side = side_of(hand)
        self.arm_group, self.hand_group = g1.ARM_OF[self.side], g1.HAND_OF[self.side]
        self.groups: tuple[str, ...] = (self.arm_group, self.hand_group)
        groups = env.embodiment.groups
        self._arm_idx = groups[self.arm_group].state_index
        self._hand_idx = groups[self.hand_group].state_index
        self._waist_idx = groups["waist"].state_index
        self.ik = ArmIK(self.side)
        self.open_hand = np.array(g1.finger_pose(self.side, False))
        self.closed_hand = np.array(g1.finger_pose(self.side, True))
        self.script = Script([], np.zeros(7), np.zeros(7))
        self.variation = current_variation()  # the collector's perturbation of this demonstration
        self._t0 = 0.0
        self._t = 0.0

    # ----------------------------------------------------------------- Executor
    def reset(self, obs: Observation, world: WorldState) -> None:
        self.ik.seed(obs, self._arm_idx, self._waist_idx)
        self.obs = obs
        self._t0 = self._t = obs.time_s
        self.error: str | None = None
        try:
            steps = self.plan(obs, world)
        except Unreachable as e:  # nothing to play: the call ends at once and its judge fails it
            self.error = str(e)
            steps = []
        self.script = Script(steps, obs.state[self._arm_idx].copy(), self.start_hand(obs))

    def act(self, obs: Observation, world: WorldState) -> GroupCommand:
        self._t = obs.time_s
        arm, hand = self.script.at(obs.time_s - self._t0)
        return {self.arm_group: arm, self.hand_group: hand}

    @property
    def finished(self) -> bool:
        return self._t - self._t0 >= self.script.duration

    def close(self) -> None:
        """Nothing runs in the background."""

    # ----------------------------------------------------------------- for subclasses
    def plan(self, obs: Observation, world: WorldState) -> list[Step]:
        raise NotImplementedError

    def start_hand(self, obs: Observation) -> np.ndarray:
        """Finger targets the script starts from (the measured finger pose)."""
        return obs.state[self._hand_idx].copy()

    def grip_hand(self, object: str, finger: str | None = None) -> np.ndarray:
        """Finger targets holding ``object``: a top pinch for the block (with ``finger``, else the one the
        hand is pinching with), else the full closure."""
        if self.env.scene.objects[object].type == ObjectType.BLOCK:
            finger = finger or pinch_finger(self.obs.state[self._hand_idx])
            return np.array(pinch_pose(self.side, finger, "grip"))
        return self.closed_hand

    def table_height(self, world: WorldState) -> float:
        station = world.robot.station or self.env.scene.robot.start_station
        return self.env.scene.stations[station].table.height

    def robot_point(self, x: float, y: float, z: float) -> np.ndarray:
        """A world point from x forward / y left of the robot's base, at world height z."""
        p, _ = self.ik.to_world(np.array([x, y, 0.0]), np.eye(3))
        return np.array([p[0], p[1], z])

    def local(self, p: np.ndarray) -> np.ndarray:
        """World point -> (x forward, y left) of the base, world z."""
        x, y, yaw = self.obs.base_pose
        c, s = np.cos(yaw), np.sin(yaw)
        dx, dy = p[0] - x, p[1] - y
        return np.array([c * dx + s * dy, -s * dx + c * dy, p[2]])

    def base_rot(self, rot: np.ndarray) -> np.ndarray:
        """A rotation given in the robot's frame, in the world."""
        return self.ik.to_world(np.zeros(3), rot)[1]

    def reach(
        self, site: str, pos: np.ndarray, rot: np.ndarray, start: np.ndarray, tol: float = IK_TOL
    ) -> np.ndarray:
        q, err = self.ik.solve(site, pos, rot, start=start)
        if err > tol:
            raise Unreachable(
                f"{self.side} {site} cannot reach {np.round(pos, 3).tolist()} (off by {err:.3f} m)"
            )
        return q

    def line(
        self,
        site: str,
        p0: np.ndarray,
        p1: np.ndarray,
        rot: np.ndarray,
        start: np.ndarray,
        rot1: np.ndarray | None = None,
    ) -> list[np.ndarray]:
        """IK points along the straight hand move p0 -> p1 (``start`` solves p0), first point included;
        with ``rot1`` the hand turns from ``rot`` to ``rot1`` on the way."""
        n = max(1, int(np.ceil(np.linalg.norm(p1 - p0) / LINE_STEP)))
        turn = None
        if rot1 is not None:
            turn = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([rot, rot1])))
            n = max(
                n, int(np.ceil(np.degrees(np.arccos(np.clip((np.trace(rot.T @ rot1) - 1) / 2, -1, 1))) / 6))
            )
        qs = [start]
        for k in range(1, n + 1):
            r = rot if turn is None else turn(k / n).as_matrix()
            qs.append(self.reach(site, p0 + (p1 - p0) * k / n, r, qs[-1]))
        return qs

    def back_off_table(self, q: np.ndarray, table_z: float) -> list[Step]:
        """A hand below the tabletop and ahead of the body (carried on legs, ``CARRY_LOCAL``) first backs
        straight off ``BACK_OFF_M``, as held: rising from there, its fingers caught under the tabletop's
        front face and levered the robot over backward. No step for any other hand."""
        pos, held_rot = self.ik.site_pose("grasp", q)
        here = self.local(pos)
        if here[2] > table_z + 0.05 or here[0] <= VIA_LOCAL[0] + BACK_OFF_M:
            return []
        back = self.robot_point(here[0] - BACK_OFF_M, here[1], pos[2])
        return [Step(0.0, JointPath.through(self.line("grasp", pos, back, held_rot, q), min_duration=0.5))]

    def via_beside_body(self, q: np.ndarray, table_z: float) -> list[Step]:
        """From a hand below the tabletop (the stand pose, or carried: it backs off the table's face
        first), rise beside the body to above the table."""
        pos, _ = self.ik.site_pose("grasp", q)
        if self.local(pos)[2] > table_z + 0.05:
            return []
        steps = self.back_off_table(q, table_z)
        if steps:
            q = steps[-1].arm.points[-1]
        rot = self.base_rot(side_grasp_rot(self.side, 0.0))
        dx, dy, dz = self.variation.via_offset
        via = self.robot_point(
            VIA_LOCAL[0] + dx, -mirror(self.side) * (VIA_LOCAL[1] + dy), table_z + 0.15 + dz
        )
        return [*steps, Step(0.0, JointPath.through([q, self.reach("grasp", via, rot, q)], min_duration=1.0))]


class HoldExecutor(ScriptedArm):
    """Keeps the arm where it is and the fingers closed on ``object``; runs until cancelled. On legs, once
    the walker is asked to walk, it first brings the object to the carry pose (``CARRY_LOCAL``): back from
    the table at its height, then down."""

    def __init__(self, env, object: str, hand: str) -> None:
        super().__init__(env, hand)
        self.object = object
        self._walker = getattr(env, "walker", None)
        self._carrying = False

    def reset(self, obs: Observation, world: WorldState) -> None:
        self._carrying = False
        super().reset(obs, world)

    def plan(self, obs: Observation, world: WorldState) -> list[Step]:
        return [Step(0.1, hand=self.grip_hand(self.object))]

    def act(self, obs: Observation, world: WorldState) -> GroupCommand:
        if self._walker is not None and self._walker.walking and not self._carrying:
            self._carrying = True
            self._carry(obs, both=sum(o.held_by is not None for o in world.objects.values()) > 1)
        return super().act(obs, world)

    def _carry(self, obs: Observation, both: bool) -> None:
        """Replace the script by the move into the carry pose, from the targets held now; ``both``: the
        other hand carries too."""
        q = self.script.at(obs.time_s - self._t0)[0]
        self.ik.seed(obs, self._arm_idx, self._waist_idx)
        self.obs = obs
        pos, rot = self.ik.site_pose("grasp", q)
        x, y, z = CARRY_LOCAL
        x = CARRY_BOTH_X if both else x
        y *= -mirror(self.side)
        low = self.robot_point(x, y, z)
        # The fingers turn about the vertical on the way (the object stays as upright as it is) to within
        # CARRY_HEADING of straight ahead, else to straight ahead: a pour leaves them turned out 14
        # degrees, and so turned the left hand could not come down by the hip (seed 0); carried as picked,
        # the catalyst cup's hand (turned out 60 degrees) walked the robot into a run and a fall on 13 of 14
        # seeds; turned straight ahead after every pick, the bottles' walk fell on 7 of 15.
        heading = float(np.angle(np.exp(1j * (np.arctan2(rot[1, 0], rot[0, 0]) - obs.base_pose[2]))))
        near = float(np.clip(heading, -CARRY_HEADING, CARRY_HEADING))
        ends = (rot_z(near - heading) @ rot, rot_z(-heading) @ rot)
        for dx, end in itertools.product(CARRY_BACK_X, ends):
            back = self.robot_point(x + dx, y, max(pos[2], z))
            try:
                pts = self.line("grasp", pos, back, rot, q, rot1=end)
                pts += self.line("grasp", back, low, end, pts[-1])[1:]
                break
            except Unreachable:
                continue
        else:  # it keeps the object where it is
            return
        self._t0 = obs.time_s
        grip = self.grip_hand(self.object)
        self.script = Script([Step(0.0, JointPath.through(pts, min_duration=CARRY_S))], q, grip)
        self._walker.delay_start(self.script.duration)

    @property
    def finished(self) -> bool:
        return False


class HandExecutor(ScriptedArm):
    """Opens or closes one hand's fingers over ``HAND_S``; the arm is not touched."""

    def __init__(self, env, hand: str, closed: bool) -> None:
        super().__init__(env, hand)
        self.groups = (self.hand_group,)
        self.closed = closed

    def plan(self, obs: Observation, world: WorldState) -> list[Step]:
        return [Step(HAND_S, hand=self.closed_hand if self.closed else self.open_hand)]

    def act(self, obs: Observation, world: WorldState) -> GroupCommand:
        return {self.hand_group: super().act(obs, world)[self.hand_group]}


class HomeExecutor(ScriptedArm):
    """Brings an arm back to the stand pose with the hand open: up off the table, beside the body, down."""

    def __init__(self, env, arm: str) -> None:
        super().__init__(env, arm)

    def plan(self, obs: Observation, world: WorldState) -> list[Step]:
        q = obs.state[self._arm_idx].copy()
        stand = np.array([STAND_POSE.get(j, 0.0) for j in g1.GROUP_JOINTS[self.arm_group]])
        table_z = self.table_height(world)
        pos, rot = self.ik.site_pose("grasp", q)
        steps = [Step(HAND_S, hand=self.open_hand)]
        here = self.local(pos)
        if here[0] > OVER_TABLE_X and here[2] < table_z + 0.25:
            up = pos + np.array([0.0, 0.0, table_z + 0.12 - pos[2]]) if pos[2] < table_z + 0.12 else pos
            pts = self.line("grasp", pos, up, rot, q) if up is not pos else [q]
            via = self.robot_point(VIA_LOCAL[0], -mirror(self.side) * VIA_LOCAL[1], up[2])
            try:
                pts += self.line("grasp", up, via, rot, pts[-1])[1:]
            except Unreachable:  # palm down close to the body: turn the hand on the way
                side_rot = self.base_rot(side_grasp_rot(self.side, 0.0))
                pts += self.line("grasp", up, via, rot, pts[-1], rot1=side_rot)[1:]
            q = pts[-1]
        # Turn the wrist to its stand angles while the hand is still high and behind the table edge, then
        # lower the arm: interpolating all joints at once swings the fingertips forward under the tabletop.
        wrist = q.copy()
        wrist[4:] = stand[4:]
        if here[0] > OVER_TABLE_X and here[2] < table_z + 0.25:
            pts = [*pts, wrist]
        else:
            # A hand hanging at the side may be pressed on the table edge (the waist turned it forward) or
            # on the hip: swing the arm back first, clear of both, so the wrist turns free, then bring it in.
            back = q.copy()
            back[0] = max(q[0], stand[0]) + HOME_SWING_BACK
            wrist[0] = back[0]
            pts = [q, back, wrist]
        steps.append(Step(0.0, JointPath.through(pts, min_duration=0.8)))
        steps.append(
            Step(0.0, JointPath.through([wrist, self._clear_of_table(stand, table_z)], min_duration=1.0))
        )
        steps.append(Step(HOME_SETTLE_S))  # the joints lag their targets: let them arrive before judging
        return steps

    def _clear_of_table(self, stand: np.ndarray, table_z: float) -> np.ndarray:
        """The stand pose, with the upper arm swung back a little (within home's tolerance) where the waist
        is turned so far that the hand hanging at the side would press on the table edge before it."""
        ik = self.ik
        cfg = ik.config.q.copy()
        here = self.local(ik.site_pose("grasp", stand)[0])
        q0 = cfg.copy()
        q0[ik._waist] = 0.0
        ik.config.update(q0)
        nominal = self.local(ik.site_pose("grasp", stand)[0])
        ik.config.update(cfg)
        shift = here[0] - nominal[0]
        if shift <= 0.005 or here[2] > table_z + 0.05:
            return stand
        q = stand.copy()
        # Every joint stays within home's tolerance of the stand pose; together they pull the hand back.
        q[0] += HOME_EDGE_PITCH  # upper arm back
        q[5] += HOME_EDGE_WRIST  # hand bent the way the edge pushes it
        return q
