"""Base-velocity executors: walk to a station, turn to face an object, step back.

They drive the env's base-velocity interface (vx, vy, yaw_rate in the robot frame). In the embedded
lab that moves a holonomic base model with the legs held in stance, or a learned walker
(envs/locomotion). The walker tracks loosely (it drifts ~0.15 m/s at a zero command, sideways commands
move it at a quarter of the speed), so on legs the executor closes the loop on the measured base pose,
turns to face long legs of the route, asks for the ``walk`` gains on the legs and waist while it moves and
for stance gains at the goal, and finishes only once the robot stands settled within tolerance.
"""

from __future__ import annotations

import math

import numpy as np

from envs.base import Observation, WorldState

MAX_SPEED = 0.6  # m/s
MAX_YAW_RATE = 1.0  # rad/s
MAX_ACCEL = 1.0  # m/s^2 (and rad/s^2)
POS_TOL = 0.01
YAW_TOL = math.radians(0.5)
CLEARANCE_M = 0.45  # how far behind a station's working pose the base travels (held objects clear tables)

# On legs (a walker): feedback gains from pose error to the command, limits inside its trained ranges.
LEG_GAIN = (0.6, 1.5, 2.0)  # vx per m, vy per m, yaw rate per rad
# It answers a command ~1 s late: faster, it overshot turning points by 0.5 m; turning faster than
# 0.5 rad/s it drifted a metre and fell.
LEG_MAX = (0.25, 0.3, 0.4)
LEG_MAX_BACK = 0.6
LEG_LAG_S = 1.0  # s: the position error is taken where the measured velocity carries it this far ahead
LEG_I = 1.0  # integral gain (per s) on the robot-frame position error near a goal
LEG_I_MAX = 0.4  # m s
FACE_TRAVEL_M = 1.0  # a leg of the route longer than this is walked facing along it
LEG_CLEARANCE_M = 0.7  # on legs the route keeps further from the tables: the arms swing and it turns there
ANCHOR_MAX = 0.1  # m/s of position correction while turning in place
TURN_RATE = 0.3  # rad/s in place
NEAR_M = 0.4  # the last this much of a long leg is walked without turning to face its end
TURN_FIRST = 0.2  # rad: a heading error above this turns in place before walking on ...
TURN_DONE = 0.08  # rad: ... until it is below this
PASS_M = 0.12  # an intermediate waypoint counts as passed this close (or once it is closing in on it) ...
PASS_SPEED = 0.08  # m/s: ... and slower than this (turning while it still moves topples it)
STOP_POS_M = 0.02  # within this of the goal (and STOP_YAW) the walker is asked to stop
STOP_YAW = math.radians(2.0)
# Settled within this of the goal (and ARRIVED_YAW) ends the call; else it walks again (a restart next to
# a table is its riskiest moment, so the margin to the station tolerance of 5 cm / 5 degrees is small).
ARRIVED_POS_M = 0.045
ARRIVED_YAW = math.radians(4.5)
MAX_STOPS = 3
LEG_GROUPS = ("left_leg", "right_leg", "waist")
LEG_TIMEOUT_S = 60.0  # on legs a call may take this long (slow, it stops and turns in place)


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


class BaseMoveExecutor:
    """Drive the base through ``waypoints`` (x, y, yaw_rad) in the world, stopping at each one."""

    groups = ("base", "left_leg", "right_leg", "waist")

    def __init__(self, env, goal: tuple[float, float, float]) -> None:
        self.waypoints = [np.array([goal[0], goal[1], math.radians(goal[2])])]
        self._vel = np.zeros(3)  # world-frame command of the last call (robot frame on legs)
        self._dt = env.control_dt
        self._last_t: float | None = None
        self._done = False
        self._walker = getattr(env, "walker", None)
        self.timeout_s = LEG_TIMEOUT_S if self._walker is not None else None  # None: the skill's own
        self._stopping = False
        self._stops = 0
        self._integral = np.zeros(2)
        self._anchor: np.ndarray | None = None
        self._leg_start: np.ndarray | None = None
        self._face = False
        self._closing = False

    @property
    def gains(self) -> dict[str, str]:
        """Walk gains on the legs and waist while the walker moves; stance gains once asked to stop."""
        if self._walker is None or self._stopping or self._done:
            return {}
        return {g: "walk" for g in LEG_GROUPS}

    @property
    def goal(self) -> np.ndarray:
        return self.waypoints[0]

    def reset(self, obs: Observation, world: WorldState) -> None:
        self._vel[:] = 0.0
        self._last_t = None
        self._done = False
        self._stopping = False
        self._stops = 0
        self._integral = np.zeros(2)
        self._anchor: np.ndarray | None = None
        self._leg_start: np.ndarray | None = None
        self._face = False

    def _world_velocity(self, pose: np.ndarray, dt: float) -> np.ndarray:
        err = self.goal - pose
        err[2] = _wrap(err[2])
        dist = math.hypot(err[0], err[1])
        # Speed that can still stop in time (v^2 = 2 a d), capped; the same for yaw.
        speed = min(MAX_SPEED, math.sqrt(2 * MAX_ACCEL * dist), 2.0 * dist)
        yaw_rate = math.copysign(
            min(MAX_YAW_RATE, math.sqrt(2 * MAX_ACCEL * abs(err[2])), 2.0 * abs(err[2])), err[2]
        )
        v = np.zeros(3)
        if dist > 1e-9:
            v[:2] = err[:2] / dist * speed
        v[2] = yaw_rate
        step = MAX_ACCEL * dt
        return self._vel + np.clip(v - self._vel, -step, step)

    def act(self, obs: Observation, world: WorldState) -> dict[str, np.ndarray]:
        if self._walker is not None:
            return self._act_on_legs(obs)
        pose = obs.base_pose
        err = self.goal - pose
        if (
            math.hypot(err[0], err[1]) < POS_TOL
            and abs(_wrap(err[2])) < YAW_TOL
            and np.abs(self._vel).max() < 0.05
        ):
            if len(self.waypoints) > 1:
                self.waypoints.pop(0)
            else:
                self._done = True
                self._vel[:] = 0.0
                return {"base": np.zeros(3)}
        # Time since the last call, not one tick: a late or slow caller must not stretch the ramp.
        dt = self._dt if self._last_t is None else max(self._dt, obs.time_s - self._last_t)
        self._last_t = obs.time_s
        self._vel = self._world_velocity(pose, dt)
        c, s = math.cos(pose[2]), math.sin(pose[2])
        vx, vy, wz = self._vel
        return {"base": np.array([c * vx + s * vy, -s * vx + c * vy, wz])}

    def _act_on_legs(self, obs: Observation) -> dict[str, np.ndarray]:
        pose = np.asarray(obs.base_pose, dtype=float)
        near = math.hypot(*(self.waypoints[0] - pose)[:2]) < PASS_M or self._closing
        if len(self.waypoints) > 1 and near and self._walker.speed < PASS_SPEED:  # the next leg turns
            self.waypoints.pop(0)
        err = self.goal - pose
        err[2] = _wrap(err[2])
        dist = math.hypot(err[0], err[1])
        last = len(self.waypoints) == 1
        if self._done:
            return {"base": np.zeros(3)}
        if self._stopping:
            if self._walker.mode in ("standing", "stance"):  # legs frozen: nothing to command
                self._vel[:] = 0.0
            if self._walker.settled:
                if (dist <= ARRIVED_POS_M and abs(err[2]) <= ARRIVED_YAW) or self._stops >= MAX_STOPS:
                    self._done = True
                    return {"base": np.zeros(3)}
                self._stopping = False  # settled out of tolerance: walk the rest
            if self._walker.mode in ("standing", "stance"):
                return {"base": np.zeros(3)}
            return {"base": self._leg_command(pose, err, dist, last)}
        if last and dist <= STOP_POS_M and abs(err[2]) <= STOP_YAW and self._walker.mode == "walking":
            self._stopping = True
            self._stops += 1
        return {"base": self._leg_command(pose, err, dist, last)}

    def _leg_command(self, pose: np.ndarray, err: np.ndarray, dist: float, last: bool) -> np.ndarray:
        """Robot-frame (vx, vy, yaw_rate) from the pose error, ramped by MAX_ACCEL."""
        if self._leg_start is not self.waypoints[0]:  # a new leg: walk it facing along it if long
            self._leg_start = self.waypoints[0]
            self._face = dist > FACE_TRAVEL_M
            self._closing = False
            self._integral[:] = 0.0
        if self._face and dist <= NEAR_M:
            self._closing = True  # latched: an overshoot must not turn it around
        if self._face and not self._closing:
            yaw_err = _wrap(math.atan2(err[1], err[0]) - pose[2])
        elif self._face and not last:  # closing in on a turning point: keep the heading, stop on it
            yaw_err = 0.0
        else:
            yaw_err = err[2]
        c, s = math.cos(pose[2]), math.sin(pose[2])
        if abs(yaw_err) > (TURN_DONE if self._anchor is not None else TURN_FIRST):
            # Turn in place, holding the spot where the turn began.
            if self._anchor is None:
                self._anchor, self._integral = pose[:2].copy(), np.zeros(2)
            err = np.array([*(self._anchor - pose[:2]), 0.0])
            dist = 0.0
        else:
            self._anchor = None
        local = np.array([c * err[0] + s * err[1], -s * err[0] + c * err[1]])
        # Damping on the measured velocity: the walker answers late, so brake on where it is heading.
        vel = self._walker.velocity
        local -= LEG_LAG_S * np.array([c * vel[0] + s * vel[1], -s * vel[0] + c * vel[1]])
        if dist <= FACE_TRAVEL_M:  # near: integral action cancels the walker's drift (anti-windup clip)
            self._integral = np.clip(self._integral + local * self._dt, -LEG_I_MAX, LEG_I_MAX)
        local = local + LEG_I * self._integral
        if self._anchor is None:  # walking on while still turning: slower the further off the heading
            local *= math.cos(min(abs(yaw_err), math.pi / 2)) ** 2
        k, top = LEG_GAIN, LEG_MAX
        back = LEG_MAX_BACK
        if self._anchor is not None:  # small corrections only while turning: combined they topple it
            top, back = (ANCHOR_MAX, ANCHOR_MAX, TURN_RATE), ANCHOR_MAX
        v = np.array(
            [
                np.clip(k[0] * local[0], -back, top[0]),
                np.clip(k[1] * local[1], -top[1], top[1]),
                np.clip(k[2] * yaw_err, -top[2], top[2]),
            ]
        )
        if self._anchor is not None and self._walker.speed > PASS_SPEED:
            v[2] = 0.0  # come to rest on the spot first, then turn
        step = MAX_ACCEL * self._dt
        if self._walker.mode in ("stance", "starting"):
            self._vel = v  # no ramp into the first steps: from rest it lurches forward unless told where
        self._vel = self._vel + np.clip(v - self._vel, -step, step)
        return self._vel.copy()

    @property
    def finished(self) -> bool:
        return self._done

    def close(self) -> None:
        pass


class WalkToExecutor(BaseMoveExecutor):
    """Go to a station's working pose without sweeping a table: back away from the table in front,
    travel to a point ``CLEARANCE_M`` behind the goal, then step in facing the table."""

    def __init__(
        self, env, goal: tuple[float, float, float], stations: list[tuple[float, float, float]]
    ) -> None:
        super().__init__(env, goal)
        self._stations = [np.array([x, y, math.radians(yaw)]) for x, y, yaw in stations]

    def reset(self, obs: Observation, world: WorldState) -> None:
        super().reset(obs, world)
        goal = self.waypoints[-1]
        pose = np.array(obs.base_pose, dtype=float)
        clearance = CLEARANCE_M if self._walker is None else LEG_CLEARANCE_M
        if math.hypot(*(goal - pose)[:2]) < 2 * CLEARANCE_M:
            self.waypoints = [goal]
            return
        route = []
        for st in self._stations:
            if math.hypot(*(st - pose)[:2]) < clearance:  # at a table: back off first
                route.append(_behind(pose, pose[2], clearance))
        route += [_behind(goal, goal[2], clearance), goal]
        self.waypoints = route


def _behind(pose: np.ndarray, yaw: float, clearance: float = CLEARANCE_M) -> np.ndarray:
    return np.array([pose[0] - clearance * math.cos(yaw), pose[1] - clearance * math.sin(yaw), yaw])


class TurnExecutor(BaseMoveExecutor):
    """Rotate in place to face an object (its position read when the call starts)."""

    def __init__(self, env, target: str) -> None:
        super().__init__(env, goal=(0.0, 0.0, 0.0))
        self.target = target

    def reset(self, obs: Observation, world: WorldState) -> None:
        super().reset(obs, world)
        x, y, _ = obs.base_pose
        p = world.objects[self.target].pos
        self.waypoints = [np.array([x, y, math.atan2(p[1] - y, p[0] - x)])]


class StepBackExecutor(BaseMoveExecutor):
    """Back straight away from where the robot faces."""

    def __init__(self, env, distance_m: float) -> None:
        super().__init__(env, goal=(0.0, 0.0, 0.0))
        self.distance_m = distance_m

    def reset(self, obs: Observation, world: WorldState) -> None:
        super().reset(obs, world)
        x, y, yaw = obs.base_pose
        self.waypoints = [
            np.array([x - self.distance_m * math.cos(yaw), y - self.distance_m * math.sin(yaw), yaw])
        ]
