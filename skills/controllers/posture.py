"""Waist posture: turn the torso (and the ego camera on it) toward an object."""

from __future__ import annotations

import math

import numpy as np

from envs.base import Observation, WorldState
from skills.controllers.trajectory import JointPath

WAIST_YAW_LIMIT = 1.2  # rad; the joint allows 2.6, but beyond ~70 deg the arms sweep the table
WAIST_PITCH_LIMIT = 0.4
WAIST_SPEED = 0.8  # rad/s


class LookAtExecutor:
    """Waist yaw toward the object, pitch down toward near objects; a minimum-jerk move, then done.

    (A constant-speed ramp starts and stops the torso so abruptly that the arms swing past their speed
    limit.)"""

    groups = ("waist",)

    def __init__(self, env, object: str) -> None:
        self.object = object
        self._done = False

    def reset(self, obs: Observation, world: WorldState) -> None:
        x, y, yaw = obs.base_pose
        p = world.objects[self.object].pos
        rel = math.atan2(p[1] - y, p[0] - x) - yaw
        rel = (rel + math.pi) % (2 * math.pi) - math.pi
        dist = math.hypot(p[0] - x, p[1] - y)
        pitch = float(np.clip(math.atan2(1.0 - p[2], max(dist, 0.2)) * 0.5, 0.0, WAIST_PITCH_LIMIT))
        self._move_to(
            obs, world, np.array([float(np.clip(rel, -WAIST_YAW_LIMIT, WAIST_YAW_LIMIT)), 0.0, pitch])
        )

    def _move_to(self, obs: Observation, world: WorldState, goal: np.ndarray) -> None:
        self.goal = goal
        start = np.array(world.robot.joints["waist"], dtype=float)
        self._path = JointPath.through([start, goal], speed=WAIST_SPEED)
        self._t0 = obs.time_s
        self._done = False

    def act(self, obs: Observation, world: WorldState) -> dict[str, np.ndarray]:
        t = obs.time_s - self._t0
        if t >= self._path.duration and np.abs(obs.state[12:15] - self.goal).max() < 0.02:
            self._done = True
        return {"waist": self._path.at(t)}

    @property
    def finished(self) -> bool:
        return self._done

    def close(self) -> None:
        pass


class WaistCenterExecutor(LookAtExecutor):
    """Turn the waist back to straight ahead (part of the stand pose)."""

    def __init__(self, env) -> None:
        super().__init__(env, object="")

    def reset(self, obs: Observation, world: WorldState) -> None:
        self._move_to(obs, world, np.zeros(3))
