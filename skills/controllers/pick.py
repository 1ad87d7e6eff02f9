"""PickExecutor: side grasp for cylinders, top-down pinch for the block; ends lifted with the object held."""

from __future__ import annotations

import math

import numpy as np

from envs.base import Observation, WorldState
from envs.scene_schema import ObjectType
from skills.controllers.arm import ScriptedArm, Unreachable
from skills.controllers.grasps import (
    PINCH_FORWARD,
    PINCH_HEIGHT,
    SITE_RADIUS,
    Shape,
    block_yaw,
    palm_normal,
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
HAND_CLEARANCE = 0.045  # palm half-thickness plus margin, for the approach corridor
FINGER_REACH = 0.06  # m the closed-off fingertips reach past the grasp site along the fingers


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
        if self.config.type == ObjectType.BLOCK:
            site, pts = self._pinch(np.array(obj.pos), obj.quat, q, table_z)
        else:
            site, pts = self._side(np.array(obj.pos), world, q)
        pre, grasp = pts
        steps.append(Step(0.0, JointPath.through(pre, min_duration=0.8)))
        steps.append(Step(0.0, JointPath.through(grasp, min_duration=0.8)))
        steps.append(Step(CLOSE_S, hand=self.grip_hand(self.object)))
        up_from, rot = self.ik.site_pose(site, grasp[-1])
        lift = self.line(site, up_from, up_from + np.array([0.0, 0.0, LIFT]), rot, grasp[-1])
        steps.append(Step(0.0, JointPath.through(lift, min_duration=1.0)))
        steps.append(Step(0.2))  # let the object settle in the grip
        return steps

    def _pinch(self, pos: np.ndarray, quat: list[float], q: np.ndarray, table_z: float):
        rot = top_pinch_rot(self.side, block_yaw(quat, self.obs.base_pose[2]))
        grasp = np.array([pos[0], pos[1], table_z + PINCH_HEIGHT]) - rot[:, 0] * PINCH_FORWARD
        above = grasp + np.array([0.0, 0.0, PREGRASP_UP])
        here, _ = self.ik.site_pose("pinch", q)
        pre = [q, *self.line("pinch", here, above, rot, self.reach("pinch", here, rot, q))[1:]]
        return "pinch", (pre, self.line("pinch", above, grasp, rot, pre[-1]))

    def _side(self, pos: np.ndarray, world: WorldState, q: np.ndarray):
        """Side approach along the palm normal where the corridor is clear, else straight down onto it."""
        z = side_grasp_height(self.shape, pos[2] - self.shape.half_height)
        last: Exception | None = None
        reachable = []
        for yaw in SIDE_YAWS:
            rot = self.base_rot(side_grasp_rot(self.side, yaw))
            n = palm_normal(self.side, rot)
            # Wider objects sit further from the palm than the grasp site assumes.
            grasp = np.array([pos[0], pos[1], z]) - n * (self.shape.radius - SITE_RADIUS)
            side_pre = grasp - n * PREGRASP_BACK
            clear = (
                self._corridor_clearance(world, side_pre, grasp, rot[:, 0] * FINGER_REACH) >= HAND_CLEARANCE
            )
            pre_p = side_pre if clear else grasp + np.array([0.0, 0.0, PREGRASP_UP + self.shape.half_height])
            try:
                pre = [q, self.reach("grasp", pre_p, rot, q)]
                pts = (pre, self.line("grasp", pre_p, grasp, rot, pre[-1]))
            except Unreachable as e:
                last = e
                continue
            if clear:
                return "grasp", pts
            reachable.append(pts)
        if not reachable:
            raise Unreachable(f"no side grasp of {self.object} with the {self.side} hand: {last}")
        return "grasp", reachable[0]

    def _corridor_clearance(
        self, world: WorldState, a: np.ndarray, b: np.ndarray, fingers: np.ndarray
    ) -> float:
        """Smallest gap between other objects and the palm's and fingertips' paths on the approach a -> b."""
        palm_a = a - (b - a) / max(np.linalg.norm(b - a), 1e-9) * SITE_RADIUS
        paths = [(palm_a[:2], b[:2]), ((palm_a + fingers)[:2], (b + fingers)[:2])]
        gap = math.inf
        for name, o in world.objects.items():
            cfg = self.env.scene.objects[name]
            if name == self.object or cfg.type in (ObjectType.ZONE, ObjectType.TRAY):
                continue
            p = np.array(o.pos[:2])
            for s0, s1 in paths:
                seg = s1 - s0
                t = np.clip(np.dot(p - s0, seg) / max(np.dot(seg, seg), 1e-12), 0.0, 1.0)
                gap = min(gap, float(np.linalg.norm(p - s0 - t * seg)) - Shape.of(cfg).radius)
        return gap
