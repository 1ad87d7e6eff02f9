"""PourExecutor: bring a held container's mouth over a target's opening, tilt until the target has
received the requested volume (read from the world state), tilt back upright.

The tilt turns the hand about its local x axis through the source's axis point at the grasp, so the
palm ends on top of the bottle. IK for the whole tilt range is solved at reset (every few degrees);
during the pour only the tilt angle is chosen per tick, from the measured received volume.
"""

from __future__ import annotations

import math

import numpy as np

from envs.base import Observation, WorldState
from skills.controllers.arm import ScriptedArm, Unreachable
from skills.controllers.grasps import Shape, palm_normal, side_grasp_rot, tilt_rot
from skills.controllers.trajectory import MAX_JOINT_SPEED, JointPath, Step
from skills.executor import GroupCommand

MAX_TILT = math.radians(105)
TILT_STEP = math.radians(4)  # between IK waypoints of the tilt
MAX_JUMP = 0.15  # rad of any joint between tilt waypoints 4 deg apart; more is an IK branch flip
TILT_TOL = 0.012  # m; a near miss only shifts the lip over the mouth, and the volume is fed back
LIP_CLEARANCE = 0.025  # m between the lip and the target's mouth at the deepest tilt
APPROACH_UP = 0.04  # m above the pour pose before coming down next to the target
FAST_MARGIN = math.radians(6)  # tilt fast up to this far before liquid reaches the lip
FLOW_ML_S = 25.0  # aimed flow once pouring; the tilt rate follows from the container's shape
LAG_S = 0.05  # reaction time allowed for when deciding to tilt back
DRAIN_HOLD_S = 1.5  # at full tilt (pouring everything) wait this long for the rest to run out
POUR_YAWS = (0.0, 0.25, -0.2, 0.5)  # hand yaws tried for the pour pose (rad, outward)


class PourExecutor(ScriptedArm):
    """Pours ``volume_ml`` from ``source`` (held in ``hand``) into ``target`` (standing upright)."""

    def __init__(self, env, source: str, target: str, volume_ml: float, hand: str) -> None:
        super().__init__(env, hand)
        self.source, self.target, self.volume_ml = source, target, float(volume_ml)
        cfg = env.scene.objects[source]
        if cfg.container is None:
            raise ValueError(f"{source} holds no liquid")
        self.shape = Shape.of(cfg)
        self.capacity = cfg.container.capacity_ml
        self._phase = "move"

    def start_hand(self, obs: Observation) -> np.ndarray:
        return self.closed_hand

    # ----------------------------------------------------------------- planning
    def plan(self, obs: Observation, world: WorldState) -> list[Step]:
        q = obs.state[self._arm_idx].copy()
        site_p, site_r = self.ik.site_pose("grasp", q)
        src = world.objects[self.source]
        centre = np.array(src.pos)
        axis = _axis(src.quat)
        along = float(np.dot(site_p - centre, axis))
        self.d_mouth = self.shape.half_height - along  # grasp point -> mouth plane, along the axis
        grip = site_r.T @ (site_p - (centre + along * axis))  # site offset from the axis, hand frame

        held = world.containers[self.source].total_ml
        self.theta_start = self._lip_angle(held)  # liquid reaches the lip
        self.pour_all = self.volume_ml >= held - 1.0
        self.theta_goal = MAX_TILT if self.pour_all else min(MAX_TILT, self._lip_angle(held - self.volume_ml))
        theta_mid = 0.5 * (self.theta_start + self.theta_goal)
        theta_low = min(MAX_TILT, self.theta_goal + math.radians(10))

        tgt = world.objects[self.target]
        mouth = np.array(tgt.pos) + np.array(
            [0.0, 0.0, Shape.of(self.env.scene.objects[self.target]).half_height]
        )
        r, d = self.shape.radius, self.d_mouth
        last: Exception | None = None
        for yaw in POUR_YAWS:
            rot0 = self.base_rot(side_grasp_rot(self.side, yaw))
            u = palm_normal(self.side, rot0)  # the mouth swings this way as the hand tilts
            pivot = mouth - u * (d * math.sin(theta_mid) - r * math.cos(theta_mid))
            pivot[2] = mouth[2] + LIP_CLEARANCE - (d * math.cos(theta_low) - r * math.sin(theta_low))
            try:
                return self._plan_at(q, site_p, site_r, pivot, rot0, grip)
            except Unreachable as e:
                last = e
        raise Unreachable(f"no pour pose for {self.source} over {self.target}: {last}")

    def _plan_at(self, q, site_p, site_r, pivot, rot0, grip) -> list[Step]:
        start = pivot + rot0 @ grip
        high = start + np.array([0.0, 0.0, APPROACH_UP])
        up = np.array([site_p[0], site_p[1], max(site_p[2], high[2])])
        try:
            lift = self.line("grasp", site_p, up, site_r, q)
        except Unreachable:  # the held orientation cannot rise that far: go there in joint space
            lift = [q]
        over = [*lift, self.reach("grasp", high, rot0, lift[-1], tol=TILT_TOL)]
        down = [over[-1], self.reach("grasp", start, rot0, over[-1], tol=TILT_TOL)]
        thetas = np.arange(0.0, MAX_TILT + 1e-9, TILT_STEP)
        qs = [down[-1]]
        for th in thetas[1:]:
            rot = rot0 @ tilt_rot(self.side, th)
            try:
                q_next = self.reach("grasp", pivot + rot @ grip, rot, qs[-1], tol=TILT_TOL)
            except Unreachable:
                break
            if np.abs(q_next - qs[-1]).max() > MAX_JUMP:  # the IK jumped branch: the tilt ends here
                break
            qs.append(q_next)
        need = self._lip_angle(0.0) + math.radians(10) if self.pour_all else self.theta_goal + math.radians(6)
        if (len(qs) - 1) * TILT_STEP < min(need, MAX_TILT - TILT_STEP):
            raise Unreachable(f"the tilt stops at {np.degrees((len(qs) - 1) * TILT_STEP):.0f} deg")
        self.thetas, self.tilt_qs = thetas[: len(qs)], np.array(qs)
        self.max_tilt = float(self.thetas[-1])
        # Tilt rate per segment (rad/s) that keeps every joint within MAX_JOINT_SPEED.
        dq = np.abs(np.diff(self.tilt_qs, axis=0)).max(axis=1) / TILT_STEP  # rad of joint per rad of tilt
        self.seg_rate = MAX_JOINT_SPEED / np.maximum(dq, 1e-6)
        return [
            Step(0.0, JointPath.through(over, min_duration=1.0)),
            Step(0.0, JointPath.through(down, min_duration=0.5)),
        ]

    def _lip_angle(self, volume: float) -> float:
        """Tilt at which ``volume`` ml fills the source to its lip (the lab's liquid model)."""
        h = 2 * self.shape.half_height
        level = volume / self.capacity * h
        return math.atan2(h - level, self.shape.radius)

    # ----------------------------------------------------------------- playing
    def reset(self, obs: Observation, world: WorldState) -> None:
        super().reset(obs, world)
        self._phase = "move"
        self._theta = 0.0
        self._received0 = world.containers[self.target].received_ml
        self._last_received = 0.0
        self._flow = 0.0
        self._full_tilt_s = 0.0
        self._done = self.error is not None

    def act(self, obs: Observation, world: WorldState) -> GroupCommand:
        dt = obs.time_s - self._t
        self._t = obs.time_s
        if self._done:
            return super().act(obs, world)
        if self._phase == "move":
            if obs.time_s - self._t0 < self.script.duration:
                return super().act(obs, world)
            self._phase = "tilt"
        got = world.containers[self.target].received_ml - self._received0
        if dt > 0:
            self._flow = 0.7 * self._flow + 0.3 * (got - self._last_received) / dt
        self._last_received = got
        if self._phase == "tilt":
            self._tilt(got, world, dt)
        elif self._phase == "back":
            self._theta = max(0.0, self._theta - self._rate(self._theta - 1e-6) * dt)
            self._done = self._theta <= 0.0
        return {self.arm_group: self._arm_at(self._theta), self.hand_group: self.closed_hand}

    def _tilt(self, got: float, world: WorldState, dt: float) -> None:
        empty = world.containers[self.source].total_ml < 0.5
        enough = got + max(self._flow, 0.0) * LAG_S >= self.volume_ml
        if empty or (not self.pour_all and enough):
            self._phase = "back"
            return
        if self._theta < self.theta_start - FAST_MARGIN:
            rate = self._rate(self._theta)
        else:
            # dV/dtheta of the liquid model near the lip: capacity * r / h / cos^2
            ml_per_rad = (
                self.capacity
                * self.shape.radius
                / (2 * self.shape.half_height)
                / max(math.cos(self._theta) ** 2, 0.03)
            )
            rate = min(self._rate(self._theta), FLOW_ML_S / ml_per_rad)
        self._theta = min(self.max_tilt, self._theta + rate * dt)
        if self._theta >= self.max_tilt - 1e-6:
            self._full_tilt_s += dt
            if self._full_tilt_s > DRAIN_HOLD_S:
                self._phase = "back"

    def _rate(self, theta: float) -> float:
        """Fastest tilt rate at ``theta`` that keeps the arm joints within MAX_JOINT_SPEED."""
        return float(self.seg_rate[min(max(int(theta / TILT_STEP), 0), len(self.seg_rate) - 1)])

    def _arm_at(self, theta: float) -> np.ndarray:
        i = min(int(theta / TILT_STEP), len(self.thetas) - 2)
        w = (theta - self.thetas[i]) / TILT_STEP
        return self.tilt_qs[i] + min(max(w, 0.0), 1.0) * (self.tilt_qs[i + 1] - self.tilt_qs[i])

    @property
    def finished(self) -> bool:
        return self._done


def _axis(quat: list[float]) -> np.ndarray:
    w, x, y, z = quat
    return np.array([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)])
