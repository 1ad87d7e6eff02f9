"""The SO-100 block expert: scripted top-down pick and place by damped-least-squares IK.

The jaws point straight down and close across the block's faces (the wrist roll follows the block's yaw,
modulo 90 degrees); each waypoint is solved on a copy of the model and reached by a joint-space ramp at
``SPEED`` rad/s, so the physics (contacts, the jaw's torque limit) decides whether the block comes along.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from envs.base import Observation, WorldState
from envs.so100.env import ARM_JOINTS, GRASP_SITE, HOME

SPEED = 1.0  # rad/s, fastest joint of a ramp
MIN_RAMP_S = 0.4
OPEN, CLOSED = 0.8, -0.15  # jaw targets (rad); closed is past contact, so the jaw squeezes
HOVER_Z = 0.08  # grasp site above the table while carrying
GRASP_Z = 0.02  # grasp site at the grasp: the pad tips ~3 mm above the table
RELEASE_Z = 0.024


class IKError(RuntimeError):
    """No joint configuration reaches the waypoint."""


def solve_ik(env, pos, yaw: float, q0: np.ndarray, iters: int = 300) -> np.ndarray:
    """Arm joints putting the grasp site at ``pos`` with the jaws down and closing along ``yaw``."""
    m = env.model
    d = mujoco.MjData(m)
    adr = np.array([m.joint(j).qposadr[0] for j in ARM_JOINTS])
    dof = np.array([m.joint(j).dofadr[0] for j in ARM_JOINTS])
    lo, hi = m.jnt_range[[m.joint(j).id for j in ARM_JOINTS]].T
    site = m.site(GRASP_SITE).id
    c, s = math.cos(yaw), math.sin(yaw)
    target = np.array([[c, 0.0, s], [s, 0.0, -c], [0.0, 1.0, 0.0]])  # columns: jaw x, y (up), z
    q = q0.copy()
    jp, jr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
    err = np.inf
    for _ in range(iters):
        d.qpos[adr] = q
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        rot = d.site_xmat[site].reshape(3, 3)
        e_p = np.asarray(pos) - d.site_xpos[site]
        e_r = 0.5 * sum(np.cross(rot[:, i], target[:, i]) for i in range(3))
        e = np.concatenate([e_p, 0.2 * e_r])
        err = float(np.linalg.norm(e_p)) + 0.02 * float(np.linalg.norm(e_r))
        if err < 1e-4:
            break
        mujoco.mj_jacSite(m, d, jp, jr, site)
        jac = np.vstack([jp[:, dof], 0.2 * jr[:, dof]])
        dq = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), e)
        q = np.clip(q + dq, lo, hi)
    if err > 3e-3:
        raise IKError(f"no arm pose reaches {np.round(pos, 3).tolist()} jaws down (error {err:.4f})")
    return q


@dataclass
class _Ramp:
    start: np.ndarray
    goal: np.ndarray
    ticks: int


class SO100BlockExpert:
    """Executor for the SO-100 block task: pick the red block, set it down in the yellow zone, go home."""

    groups = ("single_arm", "gripper")
    scenes = ("so100_block",)
    objects = ("red_block", "yellow_zone")  # what the task file's success checks may name
    effector = "gripper"  # the gripper that moves the object, as RobotState.holding names it

    lift_only = False

    def __init__(self, env) -> None:
        self.env = env
        self._plan: list[tuple[_Ramp, float]] = []
        self._i = self._t = 0

    def _waypoints(self, world: WorldState, q0: np.ndarray) -> list[tuple[np.ndarray, float, float]]:
        """(arm joints, jaw target, hold seconds) per segment."""
        block = world.objects["red_block"]
        zone = world.objects["yellow_zone"]
        w, x, y, z = block.quat
        yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)) % (math.pi / 2)
        best = None
        for k in range(4):  # the four jaw directions across the cube's faces: the one nearest the wrist's
            psi = yaw + k * math.pi / 2 - math.pi
            try:
                q = solve_ik(self.env, [*block.pos[:2], HOVER_Z], psi, q0)
            except IKError:
                continue
            cost = float(np.abs(q - q0).sum())
            if best is None or cost < best[0]:
                best = (cost, psi, q)
        if best is None:
            raise IKError(f"the block at {block.pos} is out of reach")
        _, psi, above = best
        at = solve_ik(self.env, [*block.pos[:2], GRASP_Z], psi, above)
        if self.lift_only:
            return [(above, OPEN, 0.2), (at, OPEN, 0.2), (at, CLOSED, 0.6), (above, CLOSED, 0.5)]
        zone_psi = psi  # carry without turning the wrist
        over = solve_ik(self.env, [*zone.pos[:2], HOVER_Z], zone_psi, above)
        down = solve_ik(self.env, [*zone.pos[:2], RELEASE_Z], zone_psi, over)
        home = np.array(HOME[:5])
        return [
            (above, OPEN, 0.2),
            (at, OPEN, 0.2),
            (at, CLOSED, 0.6),
            (above, CLOSED, 0.0),
            (over, CLOSED, 0.0),
            (down, CLOSED, 0.2),
            (down, OPEN, 0.4),
            (over, OPEN, 0.0),
            (home, OPEN, 0.0),
        ]

    def reset(self, obs: Observation, world: WorldState) -> None:
        dt = self.env.control_dt
        q = np.asarray(obs.state[:5], float)
        jaw = float(obs.state[5])
        self._plan = []
        for goal, jaw_goal, hold in self._waypoints(world, q):
            span = float(np.abs(goal - q).max())
            ticks = max(round(MIN_RAMP_S / dt), math.ceil(span / SPEED / dt))
            self._plan.append((_Ramp(np.r_[q, jaw], np.r_[goal, jaw_goal], ticks), hold))
            if hold:
                self._plan.append(
                    (_Ramp(np.r_[goal, jaw_goal], np.r_[goal, jaw_goal], round(hold / dt)), 0.0)
                )
            q, jaw = goal, jaw_goal
        self._i = self._t = 0

    def act(self, obs: Observation, world: WorldState) -> dict[str, np.ndarray]:
        if self.finished:
            return {}
        ramp, _ = self._plan[self._i]
        self._t += 1
        a = self._t / ramp.ticks
        s = a * a * (3 - 2 * a)  # smoothstep: no jerk at the ends of a segment
        target = ramp.start + s * (ramp.goal - ramp.start)
        if self._t >= ramp.ticks:
            self._i, self._t = self._i + 1, 0
        return {"single_arm": target[:5], "gripper": target[5:]}

    @property
    def finished(self) -> bool:
        return self._i >= len(self._plan)

    def close(self) -> None:
        pass


class SO100LiftExpert(SO100BlockExpert):
    """Executor for the SO-100 lift task: pick the red block and hold it up (the block task's other
    instruction in the same scene: what ``tandem diagnose`` tells a policy to see if it listens)."""

    lift_only = True
