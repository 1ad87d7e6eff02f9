"""Base-velocity executors: move to a pose, or turn to face an object.

They drive the env's base-velocity interface (vx, vy, yaw_rate in the robot frame). In the embedded
lab that moves a holonomic base model with the legs held in stance; a learned walking policy would sit
behind the same interface.
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


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


class BaseMoveExecutor:
    """Drive the base to ``goal`` = (x, y, yaw_deg) in the world: straight line, turning on the way."""

    groups = ("base", "left_leg", "right_leg")

    def __init__(self, env, goal: tuple[float, float, float]) -> None:
        self.goal = np.array([goal[0], goal[1], math.radians(goal[2])])
        self._vel = np.zeros(3)  # world-frame command of the last tick
        self._dt = env.control_dt
        self._done = False

    def reset(self, obs: Observation, world: WorldState) -> None:
        self._vel[:] = 0.0
        self._done = False

    def _world_velocity(self, pose: np.ndarray) -> np.ndarray:
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
        step = MAX_ACCEL * self._dt
        return self._vel + np.clip(v - self._vel, -step, step)

    def act(self, obs: Observation, world: WorldState) -> dict[str, np.ndarray]:
        pose = obs.base_pose
        err = self.goal - pose
        if (
            math.hypot(err[0], err[1]) < POS_TOL
            and abs(_wrap(err[2])) < YAW_TOL
            and np.abs(self._vel).max() < 0.05
        ):
            self._done = True
            self._vel[:] = 0.0
            return {"base": np.zeros(3)}
        self._vel = self._world_velocity(pose)
        c, s = math.cos(pose[2]), math.sin(pose[2])
        vx, vy, wz = self._vel
        return {"base": np.array([c * vx + s * vy, -s * vx + c * vy, wz])}

    @property
    def finished(self) -> bool:
        return self._done

    def close(self) -> None:
        pass


class TurnExecutor(BaseMoveExecutor):
    """Rotate in place to face an object (its position read when the call starts)."""

    def __init__(self, env, target: str) -> None:
        super().__init__(env, goal=(0.0, 0.0, 0.0))
        self.target = target

    def reset(self, obs: Observation, world: WorldState) -> None:
        super().reset(obs, world)
        x, y, _ = obs.base_pose
        p = world.objects[self.target].pos
        self.goal = np.array([x, y, math.atan2(p[1] - y, p[0] - x)])


class StepBackExecutor(BaseMoveExecutor):
    """Back straight away from where the robot faces."""

    def __init__(self, env, distance_m: float) -> None:
        super().__init__(env, goal=(0.0, 0.0, 0.0))
        self.distance_m = distance_m

    def reset(self, obs: Observation, world: WorldState) -> None:
        super().reset(obs, world)
        x, y, yaw = obs.base_pose
        self.goal = np.array([x - self.distance_m * math.cos(yaw), y - self.distance_m * math.sin(yaw), yaw])
