"""PlaceExecutor: set a held object down upright on a table spot, a zone or a tray; open; retreat."""

from __future__ import annotations

import contextlib
import math

import numpy as np

from envs.base import Observation, WorldState
from envs.geometry import world_to_station
from envs.scene_schema import ObjectType
from skills.controllers.arm import VIA_LOCAL, ScriptedArm, Unreachable
from skills.controllers.grasps import (
    HAND_CLEARANCE,
    PALM_BELOW_GRASP,
    WRIST_BEHIND,
    Shape,
    corridor_clearance,
    mirror,
    palm_normal,
    pinch_finger,
    pinch_pose,
    rot_z,
)
from skills.controllers.trajectory import JointPath, Script, Step
from skills.executor import GroupCommand

CARRY_CLEARANCE = 0.06  # m the object's bottom clears everything on the way to the spot
# m between the object's bottom and the surface at the end of the lowering: a pinched block is let go as
# it touches (PlaceExecutor.act); a side-grasped object is set down onto the surface, so that unloading the
# grip leaves it standing where it is rather than dropping it.
RELEASE_GAP = 0.004
SET_DOWN_GAP = 0.0
RETREAT = 0.07  # m up off a pinched block
SIDE_BACKOFF = 0.025  # m back along -palm normal off a side-grasped object, level
SIDE_RISE = 0.08  # m up from there
CLEAR_BACK = 0.07  # m of backing off checked clear of neighbours when a spot is chosen (with margin)
SPOT_XS = (0.30, 0.26, 0.34, 0.22, 0.38)  # free-spot candidates, robot frame
SPOT_YS = (0.18, 0.14, 0.22, 0.10, 0.26, 0.06, 0.30, 0.34)  # outward from the midline on the hand's side
PLACE_YAWS = (0.0, 0.3, -0.3, 0.6, 0.9)  # hand turns (outward > 0) tried at the spot, rad
SMALL_YAWS = 3  # the first turns, tried at every spot before the others
# s to open the fingers on a placed object: opened faster, they knock light bottles over.
RELEASE_S = 1.0
# s to unload the grip before opening: the finger targets go to where the fingers are, so the grip's
# squeeze (20-45 N on the flask) is gone before any finger moves; released from the squeeze, the uneven
# forces of the opening fingers pushed the flask 1-3 cm across its tray.
UNLOAD_S = 0.1
PINCH_OPEN_S = 0.6  # s to open the thumb and the index off a pinched block
OPEN_DWELL = 0.3  # s between opening the fingers and the retreat
TOUCH_GAP = 0.002  # m: the object's bottom this close to the surface counts as set down
TOUCH_SLIP = 0.003  # m the object may rise in the hand while lowering before it counts as set down
UPRIGHT_MIN = math.radians(8.0)  # a held object leaning more than this is stood up before it is set down
# A pinched block leans 2-10 deg in the grip; set down leaning, it lands on an edge and drops flat when let
# go (2-3 mm of release displacement), so the hand levels it first.
PINCH_UPRIGHT_MIN = math.radians(0.5)
STAND_UP_MIN = math.radians(2.0)  # a bottle set down leaning more than this is stood up before it is let go
STAND_UP_S = 0.5  # s to stand it up
SPOT_GAP = 0.035  # m between the placed object's rim and any neighbour's (room for the fingers)
# m the placed object's rim keeps inside the table's edge. The spots are in the robot's frame, and a walker
# stands 8 cm further back than the holonomic base: its nearest spot put the soap bottle's middle over the
# bench's front edge, and it toppled off (seeds 0 and 1 of "bring the soap to the bench" on legs). Gliding,
# the nearest spot leaves 2.8 cm.
SPOT_EDGE = 0.01
TORSO_CLEARANCE = 0.01  # m the forearm keeps from the torso while setting down and letting go


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
        self.site = "pinch" if self.pinch else "grasp"
        self._lower: tuple[float, float] | None = None  # script times of the lowering step
        self._held_dz = 0.0  # object centre above the hand site while carried
        self._surface_z = 0.0
        self._rot_goal = np.eye(3)
        self.release_at: float | None = None  # sim time the fingers start to open (for the benchmark)
        self._standing: float | None = None  # script time the stand-up ends

    def start_hand(self, obs: Observation) -> np.ndarray:
        return self.grip_hand(self.object)

    def plan(self, obs: Observation, world: WorldState) -> list[Step]:
        site = self.site
        self._lower = None
        q = obs.state[self._arm_idx].copy()
        pos, rot = self.ik.site_pose(site, q)
        rot0 = rot
        # Where the object really is in the hand (it may sit off the site, or have slipped in the carry):
        # the object's centre, not the hand site, is brought onto the spot.
        offset = np.array(world.objects[self.object].pos) - pos
        # A bottle that leans in the hand (it slid in the grip while pouring) is stood up by turning the hand
        # about the site: a part-full bottle set down leaning spills over its lip.
        # (Only a clear lean: a fresh grip sways a few degrees for a moment, and "correcting" that sets the
        # object down leaning the other way.)
        quat = world.objects[self.object].quat
        upright = (
            _upright(_cube_up(quat), PINCH_UPRIGHT_MIN) if self.pinch else _upright(_axis(quat), UPRIGHT_MIN)
        )
        offset = upright @ offset
        rot = upright @ rot
        surface = self._surface_z = self._surface(world)
        self._held_dz = float(offset[2])
        last: Exception | None = None
        # First the spots where the hand, little turned, clears the neighbours (a hand turned far out sets
        # a bottle down less steadily), then turned further; where there are none, any reachable spot.
        for clear, yaws in ((True, PLACE_YAWS[:SMALL_YAWS]), (True, PLACE_YAWS), (False, PLACE_YAWS)):
            for xy in self._spots(world):
                for yaw in yaws:
                    turn = rot_z(-mirror(self.side) * yaw)
                    try:
                        steps = self._place_at(
                            site, q, pos, rot, offset, turn, np.asarray(xy), surface, world, rot0, clear
                        )
                    except Unreachable as e:
                        last = e
                        continue
                    self.target_xy = np.asarray(xy)
                    return steps
        raise Unreachable(
            f"no reachable spot for {self.object} at {self.location} with the {self.side} hand: {last}"
        )

    def _place_at(self, site, q, pos, rot, offset, turn, xy, surface, world, rot0, clear) -> list[Step]:
        """Carry, lower, open, retreat with the hand turned by ``turn`` (about the vertical) at the spot;
        the hand turns from its measured rotation ``rot0`` to ``rot`` (the held object upright) on the lift
        and by ``turn`` on the way over, both interpolated in rotation (a joint-space blend between two
        hand rotations tilts the object in between). With ``clear``, a spot where the side-grasping hand
        would brush a neighbour on the way down or back is refused."""
        held = turn @ offset  # the object turns with the hand about the site
        gap = RELEASE_GAP if self.pinch else SET_DOWN_GAP
        goal = np.array([xy[0], xy[1], surface + self.shape.half_height + gap]) - held
        rot_goal = turn @ rot
        if clear and not self.pinch:
            back, along = -palm_normal(self.side, rot_goal) * CLEAR_BACK, rot_goal[:, 0]
            # The palm and the wrist, on the way down and back; the fingertips curl round the object and a
            # neighbour lower than the palm passes under the hand.
            hand = [along * d for d in (0.0, -WRIST_BEHIND / 2, -WRIST_BEHIND)]
            gap = corridor_clearance(
                self.env.scene.objects,
                world,
                goal + back,
                goal,
                hand,
                self.object,
                goal[2] - PALM_BELOW_GRASP,
            )
            if gap < HAND_CLEARANCE:
                raise Unreachable(f"the {self.side} hand would pass {gap:.3f} m from a neighbour")
        above = goal + np.array([0.0, 0.0, CARRY_CLEARANCE + 0.02])
        # The carry passes over whatever stands near its path (e.g. the flask just poured into).
        top = self._top_near_path(world, pos[:2] + offset[:2], xy)
        bottom_below_site = -held[2] + self.shape.half_height
        above[2] = max(above[2], top + CARRY_CLEARANCE + bottom_below_site)
        up = np.array([pos[0], pos[1], max(pos[2], above[2])])
        carry = self.line(site, pos, up, rot0, q, rot1=rot)
        carry += self.line(site, up, above, rot, carry[-1], rot1=rot_goal)[1:]
        lower = self.line(site, above, goal, rot_goal, carry[-1])
        retreat = self._retreat(goal, rot_goal, lower[-1])
        gap = min(self.ik.torso_gap(q) for q in lower[1:] + retreat[1:])
        if gap < TORSO_CLEARANCE:
            raise Unreachable(f"the {self.side} forearm would pass {gap:.3f} m from the torso")
        self._rot_goal = rot_goal
        carry_s = JointPath.through(carry, min_duration=0.8)
        lower_s = JointPath.through(lower, min_duration=1.0)
        self._lower = (carry_s.duration, carry_s.duration + lower_s.duration)
        return [
            Step(0.0, carry_s),
            Step(0.0, lower_s),
            *self._release(self.obs.state[self._hand_idx], retreat),
        ]

    def _retreat(self, at: np.ndarray, rot: np.ndarray, q: np.ndarray) -> list[np.ndarray]:
        """IK points from the release pose back off the object: straight up (pinch), else back then up."""
        if not self.pinch:
            # Level and only as far as the open fingers need to clear the object, then up: backing off the
            # full way (4-7 cm) with the fingers open swept the catalyst cup next to the peroxide bottle over.
            back = -palm_normal(self.side, rot) * [1.0, 1.0, 0.0]
            back *= SIDE_BACKOFF / max(float(np.linalg.norm(back)), 1e-9)
            pts = self.line(self.site, at, at + back, rot, q)
            pts += self.line(self.site, at + back, at + back + [0, 0, SIDE_RISE], rot, pts[-1])[1:]
            return pts
        up = at + np.array([0.0, 0.0, RETREAT])
        pts = self.line(self.site, at, up, rot, q)
        # Palm down near the midline the arm cannot swing back beside the body (home's route): move out
        # over the hand's own side first, where it can.
        here = self.local(up)
        out = -mirror(self.side) * VIA_LOCAL[1]
        if abs(here[1]) < abs(out):
            side = self.robot_point(here[0], out, here[2])
            with contextlib.suppress(Unreachable):  # then home finds its own way
                pts += self.line(self.site, up, side, rot, pts[-1])[1:]
        return pts

    def _release(self, fingers: np.ndarray, retreat: list[np.ndarray]) -> list[Step]:
        if self.pinch:
            # Squeeze off first, then the thumb and the index open together: one let go before the other
            # left the block pressed by a single finger, which pushed it along.
            return [
                Step(UNLOAD_S, hand=fingers),
                Step(PINCH_OPEN_S, hand=np.array(pinch_pose(self.side, pinch_finger(fingers), "release"))),
                Step(0.0, JointPath.through(retreat, min_duration=0.8)),
            ]
        # A finger that the object pushed open past its open target (the thumb, on a wide flask) keeps its
        # place: driving it "open" would swing it back into the object and kick it off the spot.
        opening = np.sign(self.open_hand - self.grip_hand(self.object))
        beyond = np.maximum((fingers - self.open_hand) * opening, 0.0)
        release = self.open_hand + beyond * opening
        return [
            Step(UNLOAD_S, hand=fingers),
            Step(RELEASE_S, hand=release),
            Step(OPEN_DWELL),  # the fingers lag their targets: let them clear the object before moving
            Step(0.0, JointPath.through(retreat, min_duration=0.8)),
        ]

    def act(self, obs: Observation, world: WorldState) -> GroupCommand:
        t = obs.time_s - self._t0
        if self._lower is not None and self.pinch and self._lower[0] <= t:
            if self._touched(obs, world) or t >= self._lower[1]:
                # Down: let go here rather than press on (the object would slide up in the grip). The arm
                # holds its current target, a little below where it lags: commanded back up to the measured
                # joints it would lift the block, and the opening fingers would flick it.
                q = self.script.at(t)[0]
                self._let_go(obs, q, self.ik.site_pose(self.site, q)[0], self._rot_goal)
        elif self._lower is not None and t >= self._lower[1]:
            self._lower = None
            if not self._stand_up(obs, world, self.script.at(t)[0]):
                self._unload(obs)
        elif self._standing is not None and t >= self._standing:
            self._unload(obs)
        return super().act(obs, world)

    def _stand_up(self, obs: Observation, world: WorldState, q: np.ndarray) -> bool:
        """A bottle set down leaning (it turned in the grip on the way, 4-9 deg measured) is turned upright
        about its foot before the fingers open: let go leaning, the opening fingers toppled it."""
        o = world.objects[self.object]
        axis = _axis(o.quat)
        turn = _upright(axis, STAND_UP_MIN)
        if np.allclose(turn, np.eye(3)):
            return False
        pos, rot = self.ik.site_pose(self.site, q)
        foot = np.array(o.pos) - axis * self.shape.half_height
        try:
            pts = self.line(self.site, pos, foot + turn @ (pos - foot), rot, q, rot1=turn @ rot)
        except Unreachable:
            return False
        stand = JointPath.through(pts, min_duration=STAND_UP_S)
        # (The pause belongs to the script: a script that has run out ends the call.)
        self.script = Script([Step(0.0, stand), Step(OPEN_DWELL)], q, self.grip_hand(self.object))
        self._t0 = obs.time_s
        self._standing = stand.duration + OPEN_DWELL
        self._rot_goal = turn @ rot
        return True

    def _unload(self, obs: Observation) -> None:
        """Set down: arm and finger targets go to where the joints are, so neither the grip's squeeze (20-45 N
        on the flask) nor the arm's push (up to 57 N of palm on the graduated cylinder) is left when the
        fingers open; released from a squeeze, the uneven forces of the opening fingers and the palm pushed
        objects 1-3 cm across the table, or over."""
        self._standing = None
        q = obs.state[self._arm_idx].copy()
        pos, _ = self.ik.site_pose(self.site, q)
        arm_now = self.script.at(obs.time_s - self._t0)[0]
        unload = Step(0.0, JointPath.through([arm_now, q], min_duration=UNLOAD_S))
        self._let_go(obs, q, pos, self._rot_goal, [unload])

    def _let_go(
        self,
        obs: Observation,
        q: np.ndarray,
        pos: np.ndarray,
        rot: np.ndarray,
        first: tuple[Step, ...] | list[Step] = (),
    ) -> None:
        """From now: ``first``, then unload the fingers, open them at ``pos`` / ``rot`` (arm joints ``q``)
        and retreat."""
        try:
            retreat = self._retreat(pos, rot, q)
        except Unreachable:
            retreat = [q]
        self._lower = None
        arm_now = self.script.at(obs.time_s - self._t0)[0]
        steps = [*(first or []), *self._release(obs.state[self._hand_idx], retreat)]
        self.script = Script(steps, arm_now, self.grip_hand(self.object))
        self._t0 = obs.time_s
        self.release_at = obs.time_s

    def _touched(self, obs: Observation, world: WorldState) -> bool:
        """The object stands on the surface, or the hand has moved down past it (it sits on something)."""
        z = world.objects[self.object].pos[2]
        if z - self.shape.half_height <= self._surface_z + TOUCH_GAP:
            return True
        site_z = self.ik.site_pose(self.site, obs.state[self._arm_idx])[0][2]
        return z - site_z > self._held_dz + TOUCH_SLIP

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
        station = self.env.scene.stations[self.location]
        scored = []
        for x in SPOT_XS:
            for y in SPOT_YS:
                p = self.robot_point(x, -mirror(self.side) * y, 0.0)[:2]
                if not self._on_table(station, p):
                    continue
                gap = self._gap(world, p)
                scored.append((min(gap, 0.1) - 0.2 * math.hypot(x - SPOT_XS[0], y - SPOT_YS[0]), gap, p))
        scored.sort(key=lambda s: -s[0])
        return [p for _, gap, p in scored if gap >= SPOT_GAP]

    def _on_table(self, station, p: np.ndarray) -> bool:
        """The object's footprint at ``p`` (world xy) lies on the station's table, SPOT_EDGE inside."""
        x, y = world_to_station(station.robot_pose, float(p[0]), float(p[1]))
        table, margin = station.table, self.shape.radius + SPOT_EDGE
        return (
            abs(x - table.center[0]) <= table.size[0] / 2 - margin
            and abs(y - table.center[1]) <= table.size[1] / 2 - margin
        )

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


def _axis(quat) -> np.ndarray:
    w, x, y, z = quat
    return np.array([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)])


def _cube_up(quat) -> np.ndarray:
    """The block's axis (signed, world) nearest to world up: any face of a cube may be its bottom."""
    w, x, y, z = quat
    rot = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    i = int(np.abs(rot[2]).argmax())
    return rot[:, i] * np.sign(rot[2, i])


def _upright(axis: np.ndarray, min_tilt: float = 0.0) -> np.ndarray:
    """The smallest rotation taking ``axis`` (unit, world) onto world up; none below ``min_tilt`` rad."""
    axis = axis / np.linalg.norm(axis)
    v = np.cross(axis, [0.0, 0.0, 1.0])
    s, c = float(np.linalg.norm(v)), float(axis[2])
    if s < 1e-9 or math.atan2(s, c) < min_tilt:
        return np.eye(3)
    k = v / s
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + s * kx + (1.0 - c) * kx @ kx
