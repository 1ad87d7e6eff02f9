"""Small rotation and pose helpers shared by the scene builder, the cameras and the skills."""

from __future__ import annotations

import math
from collections.abc import Sequence

import mujoco
import numpy as np


def wrap_angle(a: float) -> float:
    """An angle in [-pi, pi)."""
    return (a + math.pi) % (2 * math.pi) - math.pi


def yaw_quat(yaw: float) -> np.ndarray:
    """Quaternion (w, x, y, z) of a rotation by ``yaw`` radians about world z."""
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


def xyaxes_quat(x_axis, y_axis) -> np.ndarray:
    """Quaternion of the frame whose x and y axes are given (z = x cross y), as MuJoCo's xyaxes."""
    x = np.asarray(x_axis, float)
    x /= np.linalg.norm(x)
    y = np.asarray(y_axis, float)
    y -= x * (x @ y)
    y /= np.linalg.norm(y)
    mat = np.column_stack([x, y, np.cross(x, y)])
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, mat.ravel())
    return quat


def lookat_quat(eye, target) -> np.ndarray:
    """Quaternion of a camera at ``eye`` looking at ``target`` with world z up (cameras look along -z)."""
    fwd = np.asarray(target, float) - np.asarray(eye, float)
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    return xyaxes_quat(right, np.cross(right, fwd))


def station_to_world(robot_pose: tuple[float, float, float], x: float, y: float) -> tuple[float, float]:
    """A point in a station's frame (x forward of the robot standing there, y left) in world x, y."""
    px, py, yaw_deg = robot_pose
    yaw = math.radians(yaw_deg)
    return px + math.cos(yaw) * x - math.sin(yaw) * y, py + math.sin(yaw) * x + math.cos(yaw) * y


def world_to_station(robot_pose: tuple[float, float, float], x: float, y: float) -> tuple[float, float]:
    """A world point (x, y) in a station's frame: the inverse of ``station_to_world``."""
    px, py, yaw_deg = robot_pose
    yaw = math.radians(yaw_deg)
    dx, dy = x - px, y - py
    return math.cos(yaw) * dx + math.sin(yaw) * dy, -math.sin(yaw) * dx + math.cos(yaw) * dy


def moved_back(start: Sequence[float], pose: Sequence[float]) -> float:
    """How far (m) a base pose (x, y, yaw) lies behind ``start``, along the heading it had there."""
    x0, y0, yaw = start[0], start[1], start[2]
    return -((pose[0] - x0) * math.cos(yaw) + (pose[1] - y0) * math.sin(yaw))
