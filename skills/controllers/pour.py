"""PourExecutor: bring a held container's lip over a target's opening, tilt until the target has
received the requested volume (read from the world state), tilt back upright.

The tilt turns the hand about its local x axis, so the palm ends on top of the bottle. A held bottle is
rarely where the nominal grasp puts it: it sits 1-3 cm off the grasp site and leans up to ~20 deg in the
hand (more after a walk). So the plan works from the source's actual pose in the hand at reset: it
predicts, for every hand tilt, the bottle's tilt from vertical and its lip (the lowest rim point, where
the lab's liquid model lets the stream go), and places the rotation so that the lip stays over the
target's mouth over the whole range of tilts at which liquid flows. IK for the whole tilt range is solved
at reset (every few degrees, checked by forward kinematics); during the pour only the hand tilt is chosen
per tick, from the measured bottle tilt and the received volume.
"""

from __future__ import annotations

import contextlib
import itertools
import math

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from envs.base import Observation, WorldState
from skills.controllers.arm import ScriptedArm, Unreachable
from skills.controllers.grasps import Shape, side_grasp_rot, tilt_rot
from skills.controllers.trajectory import MAX_JOINT_SPEED, JointPath, Script, Step
from skills.executor import GroupCommand

MAX_TILT = math.radians(125)  # hand tilt range tried past the upright start (the bottle leans in the hand)
MAX_BOTTLE_TILT = math.radians(110)  # no need to tilt the bottle itself further (drains from ~90 deg)
TILT_STEP = math.radians(4)  # between IK waypoints of the tilt
MAX_JUMP = 0.15  # rad of any joint between tilt waypoints 4 deg apart; more is an IK branch flip
MAX_SPLITS = 3  # halvings of a tilt step that jumps, before the jump is read as a branch flip
MAX_DROP = 0.01  # m the hand may come down between tilt waypoints as the source clears the target
TILT_TOL = 0.012  # m of IK position error accepted on a tilt waypoint (the lip is checked by FK)
LIP_CLEARANCE = 0.025  # m between the lip and the target's mouth at the deepest tilt that pours
APPROACH_UP = 0.04  # m above the pour pose before coming down next to the target
FAST_MARGIN = math.radians(6)  # tilt fast up to this far (bottle tilt) before liquid reaches the lip
FLOW_ML_S = 25.0  # aimed flow once pouring; the tilt rate follows from the container's shape
LAG_S = 0.05  # reaction time allowed for when deciding to tilt back
DRAIN_HOLD_S = 1.5  # at full tilt (pouring everything) wait this long for the rest to run out
OVER_MARGIN = math.radians(8)  # bottle tilt planned past the goal (slip, tracking lag, feedback)
POUR_YAWS = (0.0, 0.25, -0.2, 0.5, -0.4, 0.75)  # hand yaws tried for the pour pose (rad, outward)
TARGET_MOVED = 0.01  # m; a target pushed this far since the plan (e.g. knocked on arrival) is re-planned for
MAX_REPLANS = 2
SETTLE_S = 1.5  # longest wait for a tipping target to settle before pouring
UPRIGHT_RANGE = (math.radians(-30), math.radians(35))  # hand tilts searched for the bottle upright
KEEP_OUT_R = 0.015  # m past the target's radius where the hand and the source must stay above its mouth
KEEP_OUT_Z = 0.012  # m above the target's mouth for anything of the hand or source over it
RIM_POINTS = 12  # points sampled on each end rim of the source for the clearance check
# Corners of the Dex3 right hand's collision boxes (hull) in the grasp-site frame, fingers closed on a
# bottle (x along the fingers, y the palm normal, metres); the left hand mirrors y. The thumb wraps the
# far side of the bottle (y > 0): it is the lowest part of the hand when the palm ends on top.
_RIGHT_HAND_HULL = np.array([
    [-0.073, -0.083, -0.03], [-0.075, -0.083, 0.032], [-0.135, -0.077, -0.033], [-0.138, -0.077, 0.029],
    [-0.13, -0.023, -0.033], [-0.132, -0.023, 0.029], [-0.076, -0.075, -0.044], [0.012, -0.079, -0.044],
    [-0.076, -0.075, 0.044], [0.012, -0.08, 0.044], [-0.073, -0.032, -0.044], [0.014, -0.037, -0.044],
    [-0.073, -0.032, 0.044], [-0.041, 0.048, -0.012], [-0.042, 0.047, 0.015], [0.057, -0.034, -0.042],
    [0.057, -0.036, -0.015], [0.02, 0.02, -0.044], [0.02, 0.021, -0.017], [0.005, 0.01, -0.044],
    [0.055, -0.03, 0.015], [0.055, -0.032, 0.042], [0.037, -0.009, 0.044], [0.013, 0.021, 0.04],
])  # fmt: skip


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
        return self.grip_hand(self.source)

    # ----------------------------------------------------------------- geometry
    def _held(self, rot: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """For a hand-site rotation: (bottle axis, lip offset from the site, bottle tilt), all world."""
        axis = rot @ self.axis_h
        cos_t = float(np.clip(axis[2], -1.0, 1.0))
        down = np.array([0.0, 0.0, -1.0]) + cos_t * axis
        sin_t = float(np.linalg.norm(down))
        top = rot @ (self.centre_h + self.shape.half_height * self.axis_h)
        lip = top + (self.shape.radius * down / sin_t if sin_t > 1e-6 else 0.0)
        return axis, lip, math.acos(cos_t)

    def _lip_angle(self, volume: float) -> float:
        """Bottle tilt at which ``volume`` ml fills the source to its lip (the lab's liquid model)."""
        h = 2 * self.shape.half_height
        level = volume / self.capacity * h
        return math.atan2(h - level, self.shape.radius)

    # ----------------------------------------------------------------- planning
    def plan(self, obs: Observation, world: WorldState) -> list[Step]:
        q = obs.state[self._arm_idx].copy()
        site_p, site_r = self.ik.site_pose("grasp", q)
        src = world.objects[self.source]
        # The source's actual pose in the hand-site frame (it is rigid with the hand while gripped).
        self.centre_h = site_r.T @ (np.array(src.pos) - site_p)
        self.axis_h = site_r.T @ _axis(src.quat)
        # A source carried on legs (by the hip, under the tabletop) backs off the table's face first. The
        # tilt is solved from the arm as it is, else from the hand risen above the table, as after a pick
        # (solved from by the hip, the left hand's tilt ended at 4 degrees on seed 0).
        table_z = self._table_z = self.table_height(world)
        self._back = self.back_off_table(q, table_z)
        self._lift_from = self._back[0].arm.points[-1] if self._back else q
        starts = [q]
        if self._back:
            p = self.ik.site_pose("grasp", self._lift_from)[0]
            with contextlib.suppress(Unreachable):
                rise = self.line("grasp", p, np.array([p[0], p[1], table_z + 0.15]), site_r, self._lift_from)
                starts.append(rise[-1])
        along = float(np.dot(-self.centre_h, self.axis_h))
        pivot_h = self.centre_h + along * self.axis_h  # the point of the bottle axis level with the site
        # Points that must clear the target: the hand's hull and both end rims of the source.
        e1 = np.cross(self.axis_h, [1.0, 0.0, 0.0] if abs(self.axis_h[0]) < 0.9 else [0.0, 1.0, 0.0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(self.axis_h, e1)
        ang = np.linspace(0.0, 2 * math.pi, RIM_POINTS, endpoint=False)
        ring = self.shape.radius * (np.outer(np.cos(ang), e1) + np.outer(np.sin(ang), e2))
        ends = [self.centre_h + sgn * self.shape.half_height * self.axis_h for sgn in (-1.0, 1.0)]
        hand = _RIGHT_HAND_HULL * np.array([1.0, 1.0 if self.side == "right" else -1.0, 1.0])
        self.body_h = np.vstack([hand, *(end + ring for end in ends)])

        held = world.containers[self.source].total_ml
        self.phi_start = self._lip_angle(held)  # liquid reaches the lip
        self.pour_all = self.volume_ml >= held - 1.0
        if self.pour_all:
            self.phi_goal = MAX_BOTTLE_TILT
            self.phi_low = MAX_BOTTLE_TILT
        else:
            self.phi_goal = self._lip_angle(held - self.volume_ml)
            self.phi_low = min(MAX_BOTTLE_TILT, self.phi_goal + OVER_MARGIN)

        tgt = world.objects[self.target]
        tshape = Shape.of(self.env.scene.objects[self.target])
        self.mouth = np.array(tgt.pos) + tshape.half_height * _axis(tgt.quat)
        self.mouth_r = tshape.radius
        last: Exception | None = None
        for start, yaw in itertools.product(starts, POUR_YAWS):
            rot_yaw = self.base_rot(side_grasp_rot(self.side, yaw))
            try:
                return self._plan_at(start, site_p, site_r, rot_yaw, pivot_h)
            except Unreachable as e:
                last = e
        raise Unreachable(f"no pour pose for {self.source} over {self.target}: {last}")

    def _tilt_table(self, rot_yaw: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        """Hand tilts from the upright-bottle start, their hand rotations and the bottle tilts."""
        grid = np.arange(UPRIGHT_RANGE[0], UPRIGHT_RANGE[1] + 1e-9, math.radians(1))
        phis = [self._held(rot_yaw @ tilt_rot(self.side, th))[2] for th in grid]
        theta0 = float(grid[int(np.argmin(phis))])
        thetas = theta0 + np.arange(0.0, MAX_TILT + 1e-9, TILT_STEP)
        rots = [rot_yaw @ tilt_rot(self.side, th) for th in thetas]
        phi = np.array([self._held(r)[2] for r in rots])
        # Past the upright start the bottle tilt must grow with the hand tilt (the tilt ends where not).
        n = len(phi)
        for i in range(2, len(phi)):
            if phi[i] <= phi[i - 1] or phi[i - 1] >= MAX_BOTTLE_TILT:
                n = i
                break
        return thetas[:n], rots[:n], phi[:n]

    def _plan_at(self, q, site_p, site_r, rot_yaw, pivot_h) -> list[Step]:
        thetas, rots, phi = self._tilt_table(rot_yaw)
        if phi[-1] < self.phi_low - 1e-6 and phi[-1] < MAX_BOTTLE_TILT - TILT_STEP:
            raise Unreachable(f"the hand tilt cannot lean the bottle past {np.degrees(phi[-1]):.0f} deg")
        keep = phi <= self.phi_low + 2 * TILT_STEP  # no need to plan deeper tilts
        keep[:2] = True
        thetas, phi = thetas[keep], phi[keep]
        rots = [r for r, k in zip(rots, keep, strict=True) if k]
        # Lip offsets from the pivot (a world point the bottle turns about) over the tilts that pour.
        flow = (phi >= self.phi_start - math.radians(2)) & (phi <= self.phi_low + math.radians(2))
        if not flow.any():
            flow = phi >= phi.max() - 1e-9
        lips = np.array([self._held(r)[1] - r @ pivot_h for r in rots])
        pivot = self._pivot_for(lips[flow])
        targets = self._targets(pivot, pivot_h, rots, flow)
        qs, lip_err = self._solve_tilt(q, rots, targets)
        # One correction for what the IK missed (its orientation is soft): shift by the mean lip error.
        n = len(qs) - 1  # tilt waypoints solved
        fl = flow[:n]
        if fl.any():
            pivot = pivot - np.array([*np.mean(lip_err[fl][:, :2], axis=0), 0.0])
            pivot[2] -= min(0.0, float(np.min(self._lip_z_margin(lip_err[fl], lips[:n][fl], pivot))))
            targets = self._targets(pivot, pivot_h, rots, flow)
            qs, lip_err = self._solve_tilt(q, rots, targets)
            n = len(qs) - 1
        if n < 2 or phi[n - 1] < min(self.phi_low, MAX_BOTTLE_TILT - TILT_STEP) - 1e-6:
            raise Unreachable(f"the tilt stops at {np.degrees(phi[max(n - 1, 0)]):.0f} deg of bottle tilt")
        self.thetas, self.tilt_qs, self.phis = thetas[:n], np.array(qs[1:]), phi[:n]
        self.pred_lips = (
            np.array([t + self._held(r)[1] for t, r in zip(targets[:n], rots[:n], strict=True)]) + lip_err
        )
        flow_lips = self.pred_lips[flow[:n]]
        if len(flow_lips):
            miss = np.hypot(*(flow_lips[:, :2] - self.mouth[:2]).T).max()
            if miss > self.mouth_r - 0.004:
                raise Unreachable(f"the lip misses the mouth of {self.target} by up to {miss:.3f} m")
        self.max_theta = float(self.thetas[-1])
        # Tilt rate per segment (rad/s) that keeps every joint within MAX_JOINT_SPEED.
        dq = np.abs(np.diff(self.tilt_qs, axis=0)).max(axis=1) / TILT_STEP  # rad of joint per rad of tilt
        self.seg_rate = MAX_JOINT_SPEED / np.maximum(dq, 1e-6)
        start_q = self.tilt_qs[0]
        start_p = self.ik.site_pose("grasp", start_q)[0]
        high = start_p + np.array([0.0, 0.0, APPROACH_UP])
        q0 = self._lift_from
        site_p = self.ik.site_pose("grasp", q0)[0]
        up = np.array([site_p[0], site_p[1], max(site_p[2], high[2])])
        try:
            lift = self.line("grasp", site_p, up, site_r, q0)
        except Unreachable:  # the held orientation cannot rise that far: go there in joint space,
            # beside the body first from under the tabletop (carried): straight for the high pose, the
            # fingers swept through the table's edge
            via = self.via_beside_body(q0, self._table_z)
            lift = [q0, *(p for step in via for p in step.arm.points[1:])]
        try:
            over = [*lift, self.reach("grasp", high, rots[0], lift[-1], tol=TILT_TOL)]
        except Unreachable:  # the solver stalls from a hand low by the hip (carried): start it at the tilt
            over = [*lift, self.reach("grasp", high, rots[0], start_q, tol=TILT_TOL)]
        return [
            *self._back,
            Step(0.0, JointPath.through(over, min_duration=1.0)),
            Step(0.0, JointPath.through([over[-1], start_q], min_duration=0.5)),
        ]

    def _targets(self, pivot, pivot_h, rots, flow) -> np.ndarray:
        """Site positions of the tilt, raised where the hand or the source would touch the target.

        While liquid flows (and deeper) the whole pose rises by what the worst tilt needs; before that
        each tilt rises by what it or any later tilt up to the flow needs, so the source comes down
        onto the pour pose as it turns.
        """
        base = np.array([pivot - r @ pivot_h for r in rots])
        need = np.array([self._clearance(p, r) for p, r in zip(base, rots, strict=True)])
        k_flow = int(np.argmax(flow))
        raise_all = max(0.0, float(need[k_flow:].max()))
        need = need - raise_all
        lift = np.zeros(len(rots))
        run = 0.0
        for k in range(k_flow - 1, -1, -1):
            run = max(run, float(need[k]))
            lift[k] = run
        # Come down gradually: a 3.6 cm drop between two tilts 4 degrees apart moved a joint more than
        # MAX_JUMP, read as an IK branch flip (the soap pour, seed 1 on legs).
        for k in range(1, len(lift)):
            lift[k] = max(lift[k], lift[k - 1] - MAX_DROP)
        return base + np.outer(raise_all + lift, [0.0, 0.0, 1.0])

    def _clearance(self, site: np.ndarray, rot: np.ndarray) -> float:
        """How far the site must rise for the hand and the source to pass over the target's mouth."""
        pts = site + self.body_h @ rot.T
        near = np.hypot(pts[:, 0] - self.mouth[0], pts[:, 1] - self.mouth[1]) < self.mouth_r + KEEP_OUT_R
        if not near.any():
            return -math.inf
        return float(self.mouth[2] + KEEP_OUT_Z - pts[near, 2].min())

    def _pivot_for(self, lips: np.ndarray) -> np.ndarray:
        """Pivot putting the middle of the lip's sweep over the mouth, the lowest lip at the clearance."""
        mid = 0.5 * (lips[:, :2].min(axis=0) + lips[:, :2].max(axis=0))
        z = self.mouth[2] + LIP_CLEARANCE - float(lips[:, 2].min())
        return np.array([self.mouth[0] - mid[0], self.mouth[1] - mid[1], z])

    def _lip_z_margin(self, err: np.ndarray, lips: np.ndarray, pivot: np.ndarray) -> np.ndarray:
        return lips[:, 2] + pivot[2] + err[:, 2] - (self.mouth[2] + LIP_CLEARANCE - 0.005)

    def _solve_tilt(self, q, rots, targets):
        """IK along the tilt (first entry: the current arm); lip errors of the FK vs the plan."""
        qs = [q]
        errs = []
        for k, (rot, target) in enumerate(zip(rots, targets, strict=True)):
            if k == 0:
                q_next = self.reach("grasp", target, rot, qs[-1], tol=TILT_TOL)
            else:
                q_next = self._continuous(qs[-1], rots[k - 1], rot, targets[k - 1], target)
                if q_next is None:  # unreachable, or an IK branch flip: the tilt ends
                    break
            p, r = self.ik.site_pose("grasp", q_next)
            errs.append(p + self._held(r)[1] - (target + self._held(rot)[1]))
            qs.append(q_next)
        return qs, np.array(errs).reshape(-1, 3)

    def _continuous(self, q, rot0, rot1, p0, p1, splits: int = MAX_SPLITS) -> np.ndarray | None:
        """Tilt waypoint ``p1`` reached from ``q`` (at ``p0``) without an IK branch flip, or None. A step
        that moves a joint more than MAX_JUMP is solved again through its midpoint, down to ``splits``
        halvings: near a wrist singularity a continuous 4-degree step swung the wrist 0.15-0.3 rad and
        the peroxide's tilt ended at 28-32 degrees (seeds 3 and 4 on legs); a flip stays a jump."""
        try:
            q1 = self.reach("grasp", p1, rot1, q, tol=TILT_TOL)
        except Unreachable:
            return None
        if np.abs(q1 - q).max() <= MAX_JUMP:
            return q1
        if splits == 0:
            return None
        mid = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([rot0, rot1])))(0.5).as_matrix()
        pm = (p0 + p1) / 2
        qm = self._continuous(q, rot0, mid, p0, pm, splits - 1)
        return None if qm is None else self._continuous(qm, mid, rot1, pm, p1, splits - 1)

    # ----------------------------------------------------------------- playing
    def reset(self, obs: Observation, world: WorldState) -> None:
        super().reset(obs, world)
        self._phase = "move"
        self._theta = float(self.thetas[0]) if self.error is None else 0.0
        self._received0 = world.containers[self.target].received_ml
        self._last_received = 0.0
        self._flow = 0.0
        self._full_tilt_s = 0.0
        self._replans = 0
        self._settle_s = 0.0
        self._done = self.error is not None

    def act(self, obs: Observation, world: WorldState) -> GroupCommand:
        dt = obs.time_s - self._t
        self._t = obs.time_s
        if self._done:
            return super().act(obs, world)
        if self._phase == "move":
            if obs.time_s - self._t0 < self.script.duration:
                return super().act(obs, world)
            if not self._ready(obs, world, dt):
                return super().act(obs, world)
            self._phase = "tilt"
        got = world.containers[self.target].received_ml - self._received0
        if dt > 0:
            self._flow = 0.7 * self._flow + 0.3 * (got - self._last_received) / dt
        self._last_received = got
        if self._phase == "tilt":
            self._tilt(got, world, dt)
        elif self._phase == "back":
            self._theta = max(self.thetas[0], self._theta - self._rate(self._theta - 1e-6) * dt)
            self._done = self._theta <= self.thetas[0]
        return {self.arm_group: self._arm_at(self._theta), self.hand_group: self.grip_hand(self.source)}

    def _ready(self, obs: Observation, world: WorldState, dt: float) -> bool:
        """At the pour pose: is the target still where the tilt was planned for? Re-plan if it moved."""
        tgt = world.objects[self.target]
        if tgt.tilt_deg > 5.0 and self._settle_s < SETTLE_S:  # knocked and still rocking: let it settle
            self._settle_s += dt
            return False
        mouth = np.array(tgt.pos) + Shape.of(self.env.scene.objects[self.target]).half_height * _axis(
            tgt.quat
        )
        if np.hypot(*(mouth - self.mouth)[:2]) <= TARGET_MOVED or self._replans >= MAX_REPLANS:
            return True
        self._replans += 1
        self.ik.seed(obs, self._arm_idx, self._waist_idx)
        self.obs = obs
        try:
            steps = self.plan(obs, world)
        except Unreachable as e:
            self.error = str(e)
            self._done = True
            return False
        self.script = Script(steps, obs.state[self._arm_idx].copy(), self.grip_hand(self.source))
        self._t0 = obs.time_s
        self._theta = float(self.thetas[0])
        return False

    def _tilt(self, got: float, world: WorldState, dt: float) -> None:
        empty = world.containers[self.source].total_ml < 0.5
        enough = got + max(self._flow, 0.0) * LAG_S >= self.volume_ml
        if empty or (not self.pour_all and enough):
            self._phase = "back"
            return
        src = world.objects[self.source]
        phi = math.acos(float(np.clip(_axis(src.quat)[2], -1.0, 1.0)))  # measured bottle tilt
        phi_lip = self._lip_angle(world.containers[self.source].total_ml)
        if phi < phi_lip - FAST_MARGIN:
            rate = self._rate(self._theta)
        else:
            # dV/dphi of the liquid model near the lip: capacity * r / h / cos^2
            ml_per_rad = (
                self.capacity
                * self.shape.radius
                / (2 * self.shape.half_height)
                / max(math.cos(phi) ** 2, 0.03)
            )
            rate = min(self._rate(self._theta), FLOW_ML_S / ml_per_rad)
        self._theta = min(self.max_theta, self._theta + rate * dt)
        if self._theta >= self.max_theta - 1e-6:
            self._full_tilt_s += dt
            if self._full_tilt_s > DRAIN_HOLD_S:
                self._phase = "back"

    def _index(self, theta: float) -> int:
        return min(max(int((theta - self.thetas[0]) / TILT_STEP), 0), len(self.thetas) - 2)

    def _rate(self, theta: float) -> float:
        """Fastest tilt rate at ``theta`` that keeps the arm joints within MAX_JOINT_SPEED."""
        return float(self.seg_rate[min(self._index(theta), len(self.seg_rate) - 1)])

    def _arm_at(self, theta: float) -> np.ndarray:
        if len(self.tilt_qs) < 2:
            return self.tilt_qs[0].copy()
        i = self._index(theta)
        w = (theta - self.thetas[i]) / TILT_STEP
        return self.tilt_qs[i] + min(max(w, 0.0), 1.0) * (self.tilt_qs[i + 1] - self.tilt_qs[i])

    @property
    def finished(self) -> bool:
        return self._done


def _axis(quat: list[float]) -> np.ndarray:
    w, x, y, z = quat
    return np.array([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)])
