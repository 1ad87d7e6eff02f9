"""PlaceExecutor: set a held object down upright on a table spot, a zone or a tray; open; retreat."""

from __future__ import annotations

import math

import numpy as np

from envs.base import Observation, WorldState
from envs.scene_schema import ObjectType
from skills.controllers.arm import HAND_S, ScriptedArm, Unreachable
from skills.controllers.grasps import Shape, mirror, palm_normal
from skills.controllers.trajectory import JointPath, Step

CARRY_CLEARANCE = 0.06  # m the object's bottom clears everything on the way to the spot
RELEASE_GAP = 0.004  # m between the object's bottom and the surface when the fingers open
RETREAT = 0.07  # m back along -palm normal (side grasp) or up (pinch)
SPOT_XS = (0.30, 0.26, 0.34, 0.22, 0.38)  # free-spot candidates, robot frame
SPOT_YS = (0.18, 0.14, 0.22, 0.10, 0.26, 0.06, 0.30, 0.34)  # outward from the midline on the hand's side
SPOT_GAP = 0.035  # m between the placed object's rim and any neighbour's (room for the fingers)


class PlaceExecutor(ScriptedArm):
    """Puts the held ``object`` at ``location``: a station name (a free spot on its table, hand's side),
    a zone (its centre) or a tray (its centre)."""

    def __init__(self, env, object: str, location: str, hand: str) -> None:
        super().__init__(env, hand)
        self.object = object
        self.location = location
        self.shape = Shape.of(env.scene.objects[object])
        self.pinch = env.scene.objects[object].type == ObjectType.BLOCK
        self.target_xy: np.ndarray | None = None

    def start_hand(self, obs: Observation) -> np.ndarray:
        return self.closed_hand

    def plan(self, obs: Observation, world: WorldState) -> list[Step]:
        site = "pinch" if self.pinch else "grasp"
        q = obs.state[self._arm_idx].copy()
        pos, rot = self.ik.site_pose(site, q)
        offset = np.array(world.objects[self.object].pos) - pos  # object centre from the hand site
        surface = self._surface(world)
        for xy in self._spots(world):
            goal = np.array([xy[0], xy[1], surface + self.shape.half_height + RELEASE_GAP]) - offset
            above = goal + np.array([0.0, 0.0, CARRY_CLEARANCE + 0.02])
            # The carry passes over whatever stands near its path (e.g. the flask just poured into).
            top = self._top_near_path(world, pos[:2] + offset[:2], np.asarray(xy))
            bottom_below_site = -offset[2] + self.shape.half_height
            above[2] = max(above[2], top + CARRY_CLEARANCE + bottom_below_site)
            try:
                up = np.array([pos[0], pos[1], max(pos[2], above[2])])
                carry = self.line(site, pos, up, rot, q)
                carry += self.line(site, up, above, rot, carry[-1])[1:]
                lower = self.line(site, above, goal, rot, carry[-1])
                back = np.array([0.0, 0.0, RETREAT]) if self.pinch else -palm_normal(self.side, rot) * RETREAT
                retreat = self.line(site, goal, goal + back, rot, lower[-1])
                if not self.pinch:
                    retreat += self.line(site, goal + back, goal + back + [0, 0, 0.05], rot, retreat[-1])[1:]
            except Unreachable:
                continue
            self.target_xy = np.asarray(xy)
            return [
                Step(0.0, JointPath.through(carry, min_duration=0.8)),
                Step(0.0, JointPath.through(lower, min_duration=1.0)),
                Step(HAND_S, hand=self.open_hand),
                Step(0.0, JointPath.through(retreat, min_duration=0.8)),
            ]
        raise Unreachable(f"no reachable spot for {self.object} at {self.location} with the {self.side} hand")

    def _top_near_path(self, world: WorldState, a: np.ndarray, b: np.ndarray) -> float:
        """Highest top of the objects standing within reach of the held object's path a -> b (xy)."""
        top = -math.inf
        seg = b - a
        for name, o in world.objects.items():
            cfg = self.env.scene.objects[name]
            if name == self.object or o.held_by is not None or cfg.type == ObjectType.ZONE:
                continue
            p = np.array(o.pos[:2])
            t = np.clip(np.dot(p - a, seg) / max(float(np.dot(seg, seg)), 1e-12), 0.0, 1.0)
            if np.linalg.norm(p - a - t * seg) < self.shape.radius + Shape.of(cfg).radius + 0.03:
                top = max(top, o.pos[2] + Shape.of(cfg).half_height)
        return top

    def _surface(self, world: WorldState) -> float:
        cfg = self.env.scene.objects.get(self.location)
        if cfg is not None and cfg.type == ObjectType.TRAY:
            return world.objects[self.location].pos[2] + cfg.size[2]
        return self.table_height(world)

    def _spots(self, world: WorldState) -> list[np.ndarray]:
        """Candidate object positions (world xy), best first."""
        if self.location not in self.env.scene.stations:
            if self.location not in world.objects:
                raise ValueError(f"unknown place location {self.location!r}")
            return [np.array(world.objects[self.location].pos[:2])]
        scored = []
        for x in SPOT_XS:
            for y in SPOT_YS:
                p = self.robot_point(x, -mirror(self.side) * y, 0.0)[:2]
                gap = self._gap(world, p)
                scored.append((min(gap, 0.1) - 0.2 * math.hypot(x - SPOT_XS[0], y - SPOT_YS[0]), gap, p))
        scored.sort(key=lambda s: -s[0])
        return [p for _, gap, p in scored if gap >= SPOT_GAP]

    def _gap(self, world: WorldState, p: np.ndarray) -> float:
        gap = math.inf
        for name, o in world.objects.items():
            cfg = self.env.scene.objects[name]
            if name == self.object or cfg.type == ObjectType.ZONE:  # zones are paint, not obstacles
                continue
            # A tray is low: only its square's half-side matters, not the corner radius.
            other = cfg.size[0] if cfg.type == ObjectType.TRAY else Shape.of(cfg).radius
            gap = min(gap, math.hypot(o.pos[0] - p[0], o.pos[1] - p[1]) - other - self.shape.radius)
        return gap
