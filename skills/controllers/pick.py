"""PickExecutor: side grasp for cylinders, top-down pinch for the block; ends lifted with the object held."""

from __future__ import annotations

import math

import numpy as np

from envs.base import Observation, WorldState
from envs.scene_schema import ObjectType
from skills.controllers.arm import ScriptedArm, Unreachable
from skills.controllers.grasps import (
    FINGER_REACH,
    HAND_CLEARANCE,
    PINCH_ACROSS,
    PINCH_FORWARD,
    PINCH_HEIGHT,
    SITE_RADIUS,
    Shape,
    block_yaw,
    corridor_clearance,
    mirror,
    palm_normal,
    pinch_pose,
    side_grasp_height,
    side_grasp_rot,
    top_pinch_rot,
)
from skills.controllers.trajectory import JointPath, Step

PREGRASP_BACK = 0.08  # m back along the palm normal before the side approach
PREGRASP_UP = 0.08  # m above the block before the pinch descends
LIFT = 0.11  # m
CLOSE_S = 0.8
# Outward hand yaws tried for a side grasp, in order of preference (rad); the approach comes from
# -palm normal, so a larger yaw approaches more from behind, past neighbours standing beside the object.
SIDE_YAWS = (0.35, 0.15, 0.55, 0.8, 1.05, -0.05, 1.3)
GRAZE_CLEARANCE = 0.035  # m; a corridor this narrow is still taken (the palm brushes) before one from above


class PickExecutor(ScriptedArm):
    """Grasps ``object`` with ``hand`` (left/right) and lifts it ~10 cm."""

    def __init__(self, env, object: str, hand: str) -> None:
        super().__init__(env, hand)
        self.object = object
        self.config = env.scene.objects[object]
        self.shape = Shape.of(self.config)

    def start_hand(self, obs: Observation) -> np.ndarray:
        return self.open_hand

    def plan(self, obs: Observation, world: WorldState) -> list[Step]:
        q0 = obs.state[self._arm_idx].copy()
        table_z = self.table_height(world)
        steps = self.via_beside_body(q0, table_z)
        q = steps[-1].arm.end if steps and steps[-1].arm else q0
        obj = world.objects[self.object]
        finger = None
        if self.config.type == ObjectType.BLOCK:
            site, finger, pts = self._pinch(np.array(obj.pos), obj.quat, q, table_z)
        else:
            site, pts = self._side(np.array(obj.pos), world, q)
        pre, grasp = pts
        # The pinch's fingers take their approach pose on the way over, clear of the block.
        shape = np.array(pinch_pose(self.side, finger, "approach")) if finger else None
        steps.append(Step(0.0, JointPath.through(pre, min_duration=0.8), shape))
        steps.append(Step(0.0, JointPath.through(grasp, min_duration=0.8)))
        steps.append(Step(CLOSE_S, hand=self.grip_hand(self.object, finger)))
        up_from, rot = self.ik.site_pose(site, grasp[-1])
        lift = self.line(site, up_from, up_from + np.array([0.0, 0.0, LIFT]), rot, grasp[-1])
        steps.append(Step(0.0, JointPath.through(lift, min_duration=1.0)))
        steps.append(Step(0.2))  # let the object settle in the grip
        return steps

    def _pinch(self, pos: np.ndarray, quat: list[float], q: np.ndarray, table_z: float):
        """Thumb-finger pinch on two opposite faces, the site off the block's centre (PINCH_ACROSS): with
        the index, else with the middle finger (the hand then sits on the index's side of the block, nearer
        the body); where neither reaches, the hand turned a quarter across the body closes on the other two
        faces."""
        yaw = block_yaw(quat, self.obs.base_pose[2])
        last: Exception | None = None
        for turn in (0.0, mirror(self.side) * math.pi / 2):
            rot = top_pinch_rot(self.side, yaw + turn)
            for finger in ("index", "middle"):
                grasp = np.array([pos[0], pos[1], table_z + PINCH_HEIGHT])
                grasp = grasp - rot[:, 0] * PINCH_FORWARD - rot[:, 2] * PINCH_ACROSS[finger]
                grasp = grasp + np.asarray(self.variation.grasp_offset)
                above = grasp + np.array([0.0, 0.0, PREGRASP_UP + self.variation.approach_offset])
                # The hand turns palm-down on the way over: turned beside the body, the arm folds into the
                # torso.
                here, rot_here = self.ik.site_pose("pinch", q)
                try:
                    pre = self.line("pinch", here, above, rot_here, q, rot1=rot)
                    return "pinch", finger, (pre, self.line("pinch", above, grasp, rot, pre[-1]))
                except Unreachable as e:
                    last = e
        raise Unreachable(f"no pinch of {self.object} with the {self.side} hand: {last}")

    def _side(self, pos: np.ndarray, world: WorldState, q: np.ndarray):
        """Side approach along the palm normal through a clear corridor; where none is reachable, through
        the widest one the palm only grazes; else straight down onto the object."""
        z = side_grasp_height(self.shape, pos[2] - self.shape.half_height)
        last: Exception | None = None
        tight = []  # (gap, rot, grasp, side_pre) of the corridors narrower than HAND_CLEARANCE
        for yaw in SIDE_YAWS:
            rot = self.base_rot(side_grasp_rot(self.side, yaw))
            n = palm_normal(self.side, rot)
            # Wider objects sit further from the palm than the grasp site assumes.
            grasp = np.array([pos[0], pos[1], z]) - n * (self.shape.radius - SITE_RADIUS)
            grasp = grasp + self._side_offset(n)
            side_pre = grasp - n * (PREGRASP_BACK + self.variation.approach_offset)
            fingers = [np.zeros(3), rot[:, 0] * FINGER_REACH]
            gap = corridor_clearance(self.env.scene.objects, world, side_pre, grasp, fingers, self.object)
            if gap < HAND_CLEARANCE:
                tight.append((gap, rot, grasp, side_pre))
                continue
            try:
                return "grasp", self._approach(q, side_pre, grasp, rot)
            except Unreachable as e:
                last = e
        grazes = [t for t in sorted(tight, key=lambda t: -t[0]) if t[0] >= GRAZE_CLEARANCE]
        tries = [(rot, grasp, pre) for _, rot, grasp, pre in grazes]
        tries += [
            (rot, grasp, grasp + np.array([0.0, 0.0, PREGRASP_UP + self.shape.half_height]))
            for _, rot, grasp, _ in tight
        ]
        for rot, grasp, pre_p in tries:
            try:
                return "grasp", self._approach(q, pre_p, grasp, rot)
            except Unreachable as e:
                last = e
        raise Unreachable(f"no side grasp of {self.object} with the {self.side} hand: {last}")

    def _side_offset(self, normal: np.ndarray) -> np.ndarray:
        """The variation's grasp offset for a side grasp: x along the approach, y across it, z up."""
        x, y, z = self.variation.grasp_offset
        across = np.cross([0.0, 0.0, 1.0], normal)
        return x * normal + y * across + np.array([0.0, 0.0, z])

    def _approach(self, q: np.ndarray, pre_p: np.ndarray, grasp: np.ndarray, rot: np.ndarray):
        """IK points to the pre-grasp point, then straight on to the grasp."""
        pre = [q, self.reach("grasp", pre_p, rot, q)]
        return pre, self.line("grasp", pre_p, grasp, rot, pre[-1])
