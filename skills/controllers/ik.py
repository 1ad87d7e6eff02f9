"""Arm IK on mink over a reduced G1: pelvis fixed, waist frozen, one arm's 7 joints free.

The lab model has ~80 DoF (objects, fingers, legs); a QP that large costs ~4 ms an iteration in mink,
so the solver runs on a kinematic copy holding only the chain that matters: pelvis -> waist -> arm.
Targets are given in the world and mapped into the pelvis frame with the observed base pose.
"""

from __future__ import annotations

import functools
import math

import mink
import mujoco
import numpy as np

from envs.base import Observation
from envs.robots.g1 import g1_constants as g1
from envs.robots.g1.g1_model import load_g1_spec

_SOLVER = "daqp"
_DT = 1.0  # mink integrates v * dt; with dt = 1 each iteration takes a full Gauss-Newton step
_DAMPING = 1e-3
_POS_TOL = 2e-3  # m; the posture regulariser keeps the last ~1 mm from closing
_ROT_TOL = 2e-2  # rad
# The shoulder roll (outward > 0) below which the upper arm meets the torso once the arm is raised forward
# (shoulder pitch <= -0.4; measured by a contact scan over shoulder yaw and elbow). The IK model has no
# geoms, so without this bound it tucked the elbow into the chest for targets near the midline: the arm
# stalled against the torso and the hand ended 1-5 cm from where it was commanded.
MIN_SHOULDER_ROLL = 0.02
# Where no pose clear of the torso reaches (a transit point beside the body), the arm may graze it down to
# this roll; further in, the solver folded the upper arm into the chest (measured: 130 N on the torso,
# joint errors of 0.6 rad, and the hand sprang free at 8 rad/s).
GRAZE_SHOULDER_ROLL = -0.15
_FALLBACK_ERR = 5e-3  # m; a solve clear of the torso missing by more is retried without that bound
_FALLBACK_ROT = 0.1  # rad; likewise for the hand's rotation (a tilted bottle spills)
# Forearm and hand links whose clearance from the torso is checked: the shoulder-roll bound keeps the upper
# arm off the chest, but a palm-down hand near the midline still brought the forearm onto the torso (the
# arm stalled 2-3 cm above a placing target and the block was let go in the air).
_FOREARM = ("elbow_link", "wrist_roll_link", "wrist_pitch_link", "wrist_yaw_link")
_GAP_MAX = 0.1  # m; distances beyond this are not resolved


@functools.cache
def _chain_model(side: str, min_roll: float = MIN_SHOULDER_ROLL) -> mujoco.MjModel:
    """The G1 with only the waist and ``side`` arm jointed and no geoms (kinematics only); the shoulder
    roll (outward > 0) is bounded below by ``min_roll``, the torso's side."""
    spec = load_g1_spec()
    keep = set(g1.GROUP_JOINTS["waist"] + g1.GROUP_JOINTS[g1.ARM_OF[side]])
    for j in list(spec.joints):
        if j.name not in keep:
            spec.delete(j)
    roll = spec.joint(f"{side}_shoulder_roll_joint")
    if side == "left":
        roll.range = [max(roll.range[0], min_roll), roll.range[1]]
    else:
        roll.range = [roll.range[0], min(roll.range[1], -min_roll)]
    for a in list(spec.actuators):
        spec.delete(a)
    for key in list(spec.keys):
        spec.delete(key)
    for g in list(spec.geoms):
        spec.delete(g)
    for name, pos in g1.HAND_SITES[side].items():
        spec.body(g1.WRIST_BODY[side]).add_site(name=f"{side}_{name}", pos=list(pos))
    spec.body(g1.ROOT_BODY).pos = [0.0, 0.0, 0.0]
    return spec.compile()


@functools.cache
def _clearance_model(side: str) -> mujoco.MjModel:
    """The IK chain (same joints) with only the collision geoms of the torso and ``side``'s forearm."""
    spec = load_g1_spec()
    keep = set(g1.GROUP_JOINTS["waist"] + g1.GROUP_JOINTS[g1.ARM_OF[side]])
    for j in list(spec.joints):
        if j.name not in keep:
            spec.delete(j)
    for a in list(spec.actuators):
        spec.delete(a)
    for key in list(spec.keys):
        spec.delete(key)
    bodies = {g1.TORSO_BODY, *(f"{side}_{b}" for b in _FOREARM)}
    for g in list(spec.geoms):
        if g.parent.name not in bodies or g.contype == 0:
            spec.delete(g)
    spec.body(g1.ROOT_BODY).pos = [0.0, 0.0, 0.0]
    return spec.compile()


class ArmIK:
    """Solves world poses of one hand's sites for its 7 arm joints (waist and base as observed).

    Args:
        side: ``left`` or ``right``.
    """

    def __init__(self, side: str) -> None:
        model = _chain_model(side)
        self.side = side
        self.config = mink.Configuration(model)
        self._arm = np.array([model.jnt_qposadr[model.joint(j).id] for j in g1.GROUP_JOINTS[g1.ARM_OF[side]]])
        self._waist = np.array([model.jnt_qposadr[model.joint(j).id] for j in g1.GROUP_JOINTS["waist"]])
        self._freeze = mink.DofFreezingTask(
            model, [int(model.jnt_dofadr[model.joint(j).id]) for j in g1.GROUP_JOINTS["waist"]]
        )
        self._posture = mink.PostureTask(model, cost=1e-2)
        self._limits = [mink.ConfigurationLimit(model)]
        self._roll_range = model.jnt_range[model.joint(f"{side}_shoulder_roll_joint").id]
        # Where no arm pose clear of the torso reaches (a transit point beside the body), one that grazes it.
        self._loose_limits = [mink.ConfigurationLimit(_chain_model(side, GRAZE_SHOULDER_ROLL))]
        self._tasks: dict[str, mink.FrameTask] = {}
        loose = _chain_model(side, GRAZE_SHOULDER_ROLL)
        self._range = loose.jnt_range[[loose.joint(j).id for j in g1.GROUP_JOINTS[g1.ARM_OF[side]]]]
        self._pelvis_pos = np.array([0.0, 0.0, g1.PELVIS_HEIGHT])
        self._pelvis_rot = np.eye(3)
        self._clear = _clearance_model(side)
        self._clear_data = mujoco.MjData(self._clear)
        torso = self._clear.body(g1.TORSO_BODY).id
        self._torso_geoms = [g for g in range(self._clear.ngeom) if self._clear.geom_bodyid[g] == torso]
        self._arm_geoms = [g for g in range(self._clear.ngeom) if self._clear.geom_bodyid[g] != torso]

    def seed(self, obs: Observation, arm_index: np.ndarray, waist_index: np.ndarray) -> None:
        """Take waist, arm and base pose from an observation (``*_index`` index ``obs.state``)."""
        q = self.config.q.copy()
        q[self._waist] = obs.state[waist_index]
        q[self._arm] = np.clip(obs.state[arm_index], self._range[:, 0], self._range[:, 1])
        self.config.update(q)
        self._posture.set_target(q)
        if obs.pelvis is not None:  # a free-standing robot: its measured pelvis pose
            self._pelvis_pos = np.array(obs.pelvis[:3], dtype=float)
            self._pelvis_rot = mink.SO3(np.asarray(obs.pelvis[3:7], dtype=float)).as_matrix()
            return
        x, y, yaw = obs.base_pose
        c, s = math.cos(yaw), math.sin(yaw)
        self._pelvis_pos = np.array([x, y, g1.PELVIS_HEIGHT])
        self._pelvis_rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def to_world(self, pos: np.ndarray, rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._pelvis_pos + self._pelvis_rot @ pos, self._pelvis_rot @ rot

    @property
    def arm(self) -> np.ndarray:
        return self.config.q[self._arm].copy()

    def set_arm(self, arm_q: np.ndarray) -> None:
        q = self.config.q.copy()
        q[self._arm] = arm_q
        self.config.update(q)

    def site_pose(self, site: str, arm_q: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """World position and rotation matrix of ``{side}_{site}`` (at ``arm_q`` if given)."""
        if arm_q is not None:
            self.set_arm(arm_q)
        T = self.config.get_transform_frame_to_world(f"{self.side}_{site}", "site")
        return self.to_world(T.translation(), T.rotation().as_matrix())

    def torso_gap(self, arm_q: np.ndarray) -> float:
        """Smallest distance (m, up to 0.1) between the forearm or hand and the torso at ``arm_q``."""
        m, d = self._clear, self._clear_data
        self.set_arm(arm_q)
        d.qpos[:] = self.config.q
        mujoco.mj_kinematics(m, d)
        return min(
            mujoco.mj_geomDistance(m, d, a, b, _GAP_MAX, None)
            for a in self._arm_geoms
            for b in self._torso_geoms
        )

    def solve(
        self, site: str, pos: np.ndarray, rot: np.ndarray, start: np.ndarray | None = None, iters: int = 40
    ) -> tuple[np.ndarray, float]:
        """Arm joints putting ``{side}_{site}`` at world ``pos`` / ``rot``; returns (q, position error).

        Starts from ``start`` (else from the last solution), so a chain of nearby targets solves fast.
        """
        task = self._tasks.get(site)
        if task is None:
            task = mink.FrameTask(f"{self.side}_{site}", "site", position_cost=1.0, orientation_cost=0.5)
            self._tasks[site] = task
        local_pos = self._pelvis_rot.T @ (np.asarray(pos, float) - self._pelvis_pos)
        local_rot = self._pelvis_rot.T @ rot
        task.set_target(mink.SE3.from_rotation_and_translation(mink.SO3.from_matrix(local_rot), local_pos))
        if start is not None:
            self.set_arm(start)
        q0 = self.config.q.copy()
        roll = q0[self._arm[1]]
        if not self._roll_range[0] - 1e-6 <= roll <= self._roll_range[1] + 1e-6:
            # Already past the torso bound (a start measured there): staying loose avoids a jump back.
            err = self._iterate(task, self._loose_limits, iters)
            return self.arm, err
        err = self._iterate(task, self._limits, iters)
        if err > _FALLBACK_ERR or self._rot_err(task) > _FALLBACK_ROT:
            q, best, rot_best = self.config.q.copy(), err, self._rot_err(task)
            self.config.update(q0)
            err = self._iterate(task, self._loose_limits, iters)
            if err >= best and self._rot_err(task) >= rot_best:
                self.config.update(q)
                err = best
        return self.arm, err

    def closest(self, site: str, pos: np.ndarray, iters: int = 400) -> np.ndarray:
        """The world point nearest ``pos`` that ``{side}_{site}`` reaches with any hand rotation, within the
        joint limits and the torso bound, solved from the current arm; the arm is left as it was. Out of
        reach it slides along the boundary: after 150 steps a 1e-5 m change of ``pos`` turned "right of"
        into "below", after 400 the answer holds."""
        task = mink.FrameTask(f"{self.side}_{site}", "site", position_cost=1.0, orientation_cost=0.0)
        local = self._pelvis_rot.T @ (np.asarray(pos, float) - self._pelvis_pos)
        task.set_target(mink.SE3.from_rotation_and_translation(mink.SO3.identity(), local))
        q0 = self.config.q.copy()
        for _ in range(iters):
            if np.linalg.norm(task.compute_error(self.config)[:3]) < _POS_TOL:
                break
            v = mink.solve_ik(
                self.config,
                [task],
                _DT,
                _SOLVER,
                damping=_DAMPING,
                limits=self._limits,
                constraints=[self._freeze],
            )
            self.config.integrate_inplace(v, _DT)
        T = self.config.get_transform_frame_to_world(f"{self.side}_{site}", "site")
        reached = self.to_world(T.translation(), np.eye(3))[0]
        self.config.update(q0)
        return reached

    def _rot_err(self, task: mink.FrameTask) -> float:
        return float(np.linalg.norm(task.compute_error(self.config)[3:]))

    def _iterate(self, task: mink.FrameTask, limits: list, iters: int) -> float:
        for _ in range(iters):
            err = task.compute_error(self.config)
            if np.linalg.norm(err[:3]) < _POS_TOL and np.linalg.norm(err[3:]) < _ROT_TOL:
                break
            v = mink.solve_ik(
                self.config,
                [task, self._posture],
                _DT,
                _SOLVER,
                damping=_DAMPING,
                limits=limits,
                constraints=[self._freeze],
            )
            self.config.integrate_inplace(v, _DT)
        return float(np.linalg.norm(task.compute_error(self.config)[:3]))
