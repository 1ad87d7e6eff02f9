"""Base-velocity executors: walk to a station, turn to face an object, step back.

They drive the env's base-velocity interface (vx, vy, yaw_rate in the robot frame). In the embedded
lab that moves a holonomic base model with the legs held in stance, or a learned walker
(envs/locomotion). The walker tracks loosely (it answers a second late, drifts a few cm/s, sidesteps at
half the speed asked), so on legs the executor closes the loop on the measured base pose,
turns to face long legs of the route, asks for the ``walk`` gains on the legs and waist while it moves and
for stance gains at the goal, and finishes only once the robot stands settled within tolerance.
"""

from __future__ import annotations

import math

import numpy as np

from envs.base import Observation, WorldState
from envs.geometry import moved_back, wrap_angle
from skills.controllers.leg_motion import LegDriver

MAX_SPEED = 0.6  # m/s
MAX_YAW_RATE = 1.0  # rad/s
MAX_ACCEL = 1.0  # m/s^2 (and rad/s^2)
POS_TOL = 0.01
YAW_TOL = math.radians(0.5)
CLEARANCE_M = 0.45  # how far behind a station's working pose the base travels (held objects clear tables)

# On legs (a walker, skills/controllers/leg_motion.py): near the goal and slow (the walker's ``route``
# stop_* numbers) it is asked to stop; settled within ARRIVED_POS_M / ARRIVED_YAW ends the call, else it
# walks again. The route keeps the walker's ``route.clearance_m`` from the tables.
ARRIVED_POS_M = 0.045
ARRIVED_YAW = math.radians(4.5)
MAX_STOPS = 3
LEG_GROUPS = ("left_leg", "right_leg", "waist")
# On legs a call may take this long: it stops and turns in place (carrying, 47-58 s), and each step that
# catches a tipping stand-up adds a walk back onto the spot (carrying both bottles, up to 98 s measured).
LEG_TIMEOUT_S = 120.0


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
        self._legs = LegDriver(self._walker, self._dt) if self._walker is not None else None
        self.arrive_at: np.ndarray | None = None  # the pose arrival is judged on, if not the route's goal

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
        if self._legs is not None:
            self._legs.start([])

    def _world_velocity(self, pose: np.ndarray, dt: float) -> np.ndarray:
        err = self.goal - pose
        err[2] = wrap_angle(err[2])
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
            and abs(wrap_angle(err[2])) < YAW_TOL
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
        if self._done:
            return {"base": np.zeros(3)}
        if not self._legs.waypoints:
            self._legs.start(self.waypoints)
        dist, yaw_err = self._legs.error(pose)
        if self._stopping:
            if self._walker.settled:
                if self._arrived(pose) or self._stops >= MAX_STOPS:
                    self._done = True
                    return {"base": np.zeros(3)}
                self._stopping = False  # settled out of tolerance: walk the rest
                self._legs.start([self._legs.goal])
            elif self._walker.mode in ("standing", "stance"):
                return {"base": np.zeros(3)}
        elif (
            len(self._legs.waypoints) == 1
            and dist <= (r := self._walker.cfg.route).stop_pos_m
            and yaw_err <= math.radians(r.stop_yaw_deg)
            and self._walker.speed < r.stop_speed
            and self._walker.mode == "walking"
        ):
            self._stopping = True  # it steps on the spot until the gait clock says both feet are down
            self._stops += 1
        elif self._walker.mode in ("stance", "starting"):
            # Not walking yet (a hold moving into the carry pose delays the start, then the legs bend):
            # a command ramped meanwhile met the first step at full speed; backing off the bench, that
            # lurch brought the policy forward into the table (seed 17).
            return {"base": np.zeros(3)}
        return {"base": self._legs.command(pose)}

    def _arrived(self, pose: np.ndarray) -> bool:
        """Settled on legs close enough to the goal (``arrive_at``, else the route's) to end the call."""
        dist, yaw_err = self._legs.error(pose, self.arrive_at)
        return dist <= ARRIVED_POS_M and yaw_err <= ARRIVED_YAW

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
        self.arrive_at = self.waypoints[-1]  # the station's pose, not the stop short of it

    def reset(self, obs: Observation, world: WorldState) -> None:
        super().reset(obs, world)
        goal = self.arrive_at
        pose = np.array(obs.base_pose, dtype=float)
        clearance = CLEARANCE_M if self._walker is None else self._walker.cfg.route.clearance_m
        route = []
        if math.hypot(*(goal - pose)[:2]) >= 2 * CLEARANCE_M:
            for st in self._stations:
                if math.hypot(*(st - pose)[:2]) < clearance:  # at a table: back off first
                    route.append(_behind(pose, pose[2], clearance))
            route.append(_behind(goal, goal[2], clearance))
        if self._walker is not None:  # standing up moves the pelvis forward: stop that much short
            goal = _behind(goal, goal[2], self._walker.cfg.route.stand_up_forward_m)
        self.waypoints = [*route, goal]


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

    def __init__(self, env, distance_m: float, tolerance_m: float) -> None:
        super().__init__(env, goal=(0.0, 0.0, 0.0))
        self.distance_m, self.tolerance_m = distance_m, tolerance_m
        self._start = np.zeros(3)

    def reset(self, obs: Observation, world: WorldState) -> None:
        super().reset(obs, world)
        self._start = np.array(obs.base_pose, dtype=float)
        x, y, yaw = obs.base_pose
        back = self.distance_m
        if self._walker is not None:
            back += self._walker.cfg.route.stand_up_forward_m
        self.waypoints = [np.array([x - back * math.cos(yaw), y - back * math.sin(yaw), yaw])]

    def _arrived(self, pose: np.ndarray) -> bool:
        """Settled the asked distance back, give or take ``tolerance_m``: a step back clears the table, so
        its sideways drift and heading do not matter, and walking again from a stop lunges forward into it."""
        return abs(moved_back(self._start, pose) - self.distance_m) <= self.tolerance_m
