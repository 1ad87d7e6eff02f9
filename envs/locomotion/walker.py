"""A learned walker behind the base-velocity interface: an ONNX policy run each control tick.

While the owner of the groups it ``drives`` (legs, waist) asks for the ``walk`` gain profile, the walker
runs the policy on them and on the policy's other groups that nobody owns (the arms swing as trained: held
at the lab's stand pose they made the policy wander and fall). An arm someone owns (``hold`` carrying a
bottle) keeps its owner's targets and gains; the policy sees it at rest in its default pose, asked to stay
there, and on legs ``hold`` carries near that pose (skills/controllers/arm.py), keeping the walker in
stance until the object is there (``delay_start``). Seen at the targets the policy asked for, a carried
arm made it walk into the shelf and fall (docs/locomotion.md). Asked for another profile, it stops: zero
command until both feet are down, in line and the pelvis is slow, then the joints freeze, stiffen (stance
gains) and move into the lab's stand pose, which the arm skills are planned for, held upright by an ankle
balance (envs/locomotion/balance.py); a stand-up whose capture point passes the heels or toes goes
back to the policy, which steps, and the stop starts over. Measured: under stiff gains the knees-bent
pose tips backward, and so does the stand pose with the arms in the policy's pose (elbows 0.6 rad): the
G1's centre of mass sits close to its heels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import mujoco
import numpy as np

from envs.locomotion.balance import AnkleBalance
from envs.locomotion.config import LocomotionPolicyConfig, PolicyError
from envs.locomotion.gains import GainTable

STAND_S = 2.0  # straighten from the stopped stance into the stand pose (in 1 s it toppled backward)
FEET_IN_LINE_M = 0.04  # the feet's fore-aft offset (pelvis frame) under which a stop may freeze
STOP_MIN_S = 0.2  # zero command at least this long before a stop may freeze the legs
STOP_MAX_S = 6.0
STOP_SPEED = (
    0.08  # m/s: the pelvis's drift (smoothed velocity) under which a double-support stance may freeze
)
STOP_GYRO = 1.0  # rad/s (the pelvis rolls ~0.5 rad/s stepping in place)
STOP_TILT = 0.14  # rad (8 degrees; the knees-bent pose leans ~4.5)
SETTLED_SPEED = 0.03  # m/s and rad/s of the pelvis under which a stance is at rest
SETTLED_GYRO = 0.1
SPEED_TAU = 0.3  # s, smoothing of the pelvis velocity (it sways sideways within each step)


class OnnxPolicy:
    """The network: one observation in, one action out, checked against its description."""

    def __init__(self, path: Path, cfg: LocomotionPolicyConfig) -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - a dependency of the package
            raise PolicyError(f"the walker needs onnxruntime (pip install onnxruntime): {e}") from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # a 100 k-parameter MLP: threads cost more than they give
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for a bad file
            raise PolicyError(f"{path}: not a loadable ONNX model ({type(e).__name__}: {e})") from None
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        outputs = {o.name: o.shape for o in self.session.get_outputs()}
        if cfg.input not in inputs or cfg.output not in outputs:
            raise PolicyError(
                f"{path}: walker '{cfg.name}' expects input '{cfg.input}' and output '{cfg.output}'; the "
                f"file has inputs {inputs} and outputs {outputs}"
            )
        n_in, n_out = inputs[cfg.input][-1], outputs[cfg.output][-1]
        if n_in != cfg.obs_size:
            raise PolicyError(
                f"{path}: input '{cfg.input}' takes {n_in} numbers; walker '{cfg.name}' builds an "
                f"observation "
                f"of {cfg.obs_size} ({' + '.join(cfg.observation)})"
            )
        if n_out != len(cfg.joints):
            raise PolicyError(
                f"{path}: output '{cfg.output}' gives {n_out} actions; walker '{cfg.name}' drives "
                f"{len(cfg.joints)} joints"
            )
        self._input, self._output = cfg.input, cfg.output

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.session.run([self._output], {self._input: obs[None]})[0][0]


def add_imu(spec: mujoco.MjSpec, cfg: LocomotionPolicyConfig) -> None:
    """The IMU site (unless the robot model has it) and the velocimeter and gyro the policy reads."""
    site = cfg.imu_site
    if not any(s.name == site.name for s in spec.sites):
        spec.body(site.body).add_site(name=site.name, pos=list(site.pos), size=[0.01, 0, 0], group=5)
    for kind, name in (
        (mujoco.mjtSensor.mjSENS_VELOCIMETER, "linvel"),
        (mujoco.mjtSensor.mjSENS_GYRO, "gyro"),
    ):
        spec.add_sensor(name=f"walker_{name}", type=kind, objtype=mujoco.mjtObj.mjOBJ_SITE, objname=site.name)


class Walker:
    """Runs the policy; ``mode`` is stance, starting, walking, stopping or standing."""

    def __init__(
        self,
        cfg: LocomotionPolicyConfig,
        policy_path: Path,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        groups: Mapping[str, tuple[str, ...]],
        gains: GainTable,
        stand_pose: Mapping[str, float],
        feet: tuple[str, str],
        root: str,
        ankles: Sequence[str],
    ) -> None:
        """``feet``: the foot bodies; ``root``: the floating body; ``ankles``: the joints (left pitch, left
        roll, right pitch, right roll) the stance balance drives."""
        self.cfg, self.model, self.data, self.gains = cfg, model, data, gains
        self.policy = OnnxPolicy(policy_path, cfg)
        names = list(cfg.joints)
        missing = [j for j in names if j not in {jn for js in groups.values() for jn in js}]
        if missing:
            raise PolicyError(f"walker '{cfg.name}': joints not in this robot: {', '.join(missing)}")
        unknown = [g for g in cfg.drives if g not in groups]
        if unknown:
            raise PolicyError(f"walker '{cfg.name}': drives unknown groups {unknown}; groups: {list(groups)}")
        self.drives = tuple(cfg.drives)
        # Every group the policy has joints of, and which of its rows they are.
        self._rows = {
            g: np.array([names.index(j) for j in js]) for g, js in groups.items() if set(js) <= set(names)
        }
        self.others = tuple(g for g in self._rows if g not in self.drives)
        self._qadr = np.array([model.jnt_qposadr[model.joint(j).id] for j in names])
        self._dadr = np.array([model.jnt_dofadr[model.joint(j).id] for j in names])
        self._act = np.array([model.actuator(j).id for j in names])
        self.default = np.array([q + cfg.pose_offset.get(j, 0.0) for j, q in cfg.joints.items()])
        self._shown_action = np.zeros(len(names), dtype=np.float32)  # last_action as the policy sees it
        self._stand = np.array([stand_pose.get(j, 0.0) for j in names])
        gains.add_profile(
            "walk",
            {
                int(a): (r.kp, 0.0, r.damping, cfg.frictionloss)
                for a, r in ((self._act[i], cfg.gain_of(j)) for i, j in enumerate(names))
            },
        )
        self._site = model.site(cfg.imu_site.name).id
        self._linvel = data.sensor("walker_linvel")
        self._gyro = data.sensor("walker_gyro")
        self._feet = [model.body(f).id for f in feet]
        b = cfg.balance
        self.balance = AnkleBalance(
            model, data, root, feet, ankles, b.gain, b.setpoint_m, (b.max_pitch_rad, b.max_roll_rad)
        )
        self._ankle_rows = [names.index(a) for a in ankles]
        self._floor = model.geom("floor").id
        self._phase_step = 2 * math.pi * cfg.gait_hz * cfg.control_dt
        self.reset()

    def reset(self) -> None:
        self.mode = "stance"
        self.requested = "stance"
        self.free: set[str] = set(self.others)  # groups nobody else owns (the runtime says)
        self._set_bias()
        self._take(())  # the groups it runs the policy on now
        self.command = np.zeros(len(self.cfg.command.low))
        self.last_action = np.zeros(len(self.cfg.joints), dtype=np.float32)
        self.phase = np.array([0.0, math.pi])
        self._t = 0.0  # seconds in the current mode
        self._from = np.zeros(len(self.cfg.joints))
        self._drift = np.zeros(2)
        self._yaw_rate = 0.0
        self._start_at = 0.0  # sim time before which a requested walk waits in stance (delay_start)
        self.catches = 0  # stand-ups the policy took back to step (_catch)
        self.balance.reset()

    # ------------------------------------------------------------------ interface
    def set_command(self, v: np.ndarray) -> None:
        self.command = np.clip(np.asarray(v, dtype=float) + self.bias, self._low, self._high)

    def _set_bias(self) -> None:
        """What is added to a command while ``free`` stays as it is: the description's bias, and its
        ``owned_arm_bias`` per arm someone else owns."""
        c = self.cfg.command
        self._low, self._high = np.array(c.low), np.array(c.high)
        bias = np.zeros(len(c.low)) if c.bias is None else np.array(c.bias)
        if c.owned_arm_bias is not None:
            bias = bias + len(set(self.others) - self.free) * np.array(c.owned_arm_bias)
        self.bias = bias

    def request(self, profile: str, free: set[str]) -> None:
        """The driven groups' owner asks for a gain profile (``walk`` walks, another stops); ``free``
        are the groups nobody owns."""
        if profile not in self.gains.profiles:
            raise ValueError(f"unknown gain profile '{profile}'; profiles: {self.gains.profiles}")
        self.requested = profile
        self.free = set(free) & set(self.others)
        self._set_bias()
        released = [g for g in self._taken if g in self.others and g not in self.free]
        if released:  # an owner took an arm mid-walk: it gets its gains back, the policy lets go of it
            self._take(tuple(g for g in self._taken if g not in released))

    def delay_start(self, seconds: float) -> None:
        """An owner of another group needs ``seconds`` in stance before the legs bend (a hold moving its
        object into the carry pose: bending first lowered the held bottles onto the table)."""
        self._start_at = max(self._start_at, float(self.data.time) + seconds)

    @property
    def velocity(self) -> np.ndarray:
        """The pelvis's smoothed horizontal velocity (world, m/s): its drift, without the sway in a step."""
        return self._drift.copy()

    @property
    def yaw_rate(self) -> float:
        """The pelvis's smoothed turn rate about the vertical (rad/s)."""
        return self._yaw_rate

    @property
    def speed(self) -> float:
        return float(np.linalg.norm(self._drift))

    @property
    def taken(self) -> tuple[str, ...]:
        return self._taken

    @property
    def walking(self) -> bool:
        return self.requested == "walk"

    @property
    def settled(self) -> bool:
        """In stance, gains blended, the body at rest: arm skills may start."""
        v = self.data.qvel
        return (
            self.mode == "stance"
            and not self.gains.blending
            and float(np.linalg.norm(v[0:3])) < SETTLED_SPEED
            and float(np.linalg.norm(v[3:6])) < SETTLED_GYRO
        )

    def before_physics(self, dt: float) -> None:
        """Write the targets of the groups it runs for the coming control tick."""
        self._t += dt
        self._drift += dt / SPEED_TAU * (self.data.qvel[0:2] - self._drift)
        wz = float((self.data.site_xmat[self._site].reshape(3, 3) @ self._gyro.data)[2])
        self._yaw_rate += dt / SPEED_TAU * (wz - self._yaw_rate)
        mode = self.mode
        if mode == "stance" and self.walking and self.data.time >= self._start_at:
            self._take(self.drives + tuple(sorted(self.free)))
            self._enter("starting")
        elif mode == "starting" and not self.walking:
            self._enter("standing")
        elif mode == "walking" and not self.walking:
            self._enter("stopping")
            # A command left from its owner would walk it away.
            self.command = np.clip(self.bias, self._low, self._high)
        if self.mode == "starting":
            # From the lab's stand pose, bend into the policy's default pose (stiff), then hand over.
            s = min(1.0, self._t / self.cfg.start_s)
            self._write(self._from + s * (self.default - self._from))
            if self._t >= self.cfg.start_s + self.cfg.start_hold_s:
                self.gains.set({g: "walk" for g in self._taken}, instant=self._taken)
                self._enter("walking")
        elif self.mode == "walking":
            self._step_policy(self.command)
        elif self.mode == "stopping":
            if self._t >= STOP_MIN_S and (self._stable() or self._t >= STOP_MAX_S):
                self._enter("standing")
                self._write(self._from)
                self.gains.set(
                    {g: self.requested if g in self.drives else "manipulation" for g in self._taken}
                )
            else:  # the owner keeps closing its loop on the pose while the feet come to rest
                self._step_policy(self.command)
        elif self.mode == "standing" and self._tipping():
            self._catch()
        elif self.mode == "standing":
            s = min(1.0, self._t / STAND_S)
            self._write(self._from + s * (self._stand - self._from))
            if s >= 1.0:
                self._take(())
                self._enter("stance")
                self.command[:] = 0.0
        self.balance.track(dt)
        if self.mode in self.cfg.balance.modes and self.gains.profile[self.drives[0]] == "stance":
            # Stiff and frozen, the ankles keep it standing (envs/locomotion/balance.py).
            rows = self._ankle_rows  # left pitch, left roll, right pitch, right roll
            base = self._stand[rows] if self.mode == "stance" else self.data.ctrl[self._act[rows]]
            self.balance.apply(base[0::2], base[1::2])

    # ------------------------------------------------------------------ internals
    def _take(self, groups: tuple[str, ...]) -> None:
        self._taken = groups
        # The policy's rows it does not run, shown at rest by the observation (worked out here, not per tick).
        self._unrun = np.setdiff1d(np.arange(len(self.cfg.joints)), self._rows_of(groups))

    def _enter(self, mode: str) -> None:
        self.mode = mode
        self._t = 0.0
        self._from = self.data.qpos[self._qadr].copy()
        if mode == "walking":
            self._fresh_gait()
            # The bend into the walking pose moved the pelvis, not the robot: counted as drift (0.4 m/s
            # back), it made the walk skills brake a step back into a lunge at the bench (seed 15).
            self._drift[:] = 0.0

    def _tipping(self) -> bool:
        """The capture point has left the feet: the ankles' lean cannot bring it back."""
        fwd, _ = self.balance.capture_offset()
        b = self.cfg.balance
        return fwd < -b.step_behind_m or fwd > b.step_ahead_m

    def _catch(self) -> None:
        """Hand the legs back to the policy mid stand-up: it steps to catch the body, then stops again."""
        self.catches += 1
        self.gains.set({g: "walk" for g in self._taken}, instant=self._taken)
        self._enter("stopping")
        self._fresh_gait()
        self._step_policy(self.command)

    def _fresh_gait(self) -> None:
        """The policy takes over a pose it did not command: no last action, the gait clock at its start."""
        self.last_action[:] = 0.0
        self.phase = np.array([0.0, math.pi])

    def _rows_of(self, groups: tuple[str, ...]) -> np.ndarray:
        return np.concatenate([self._rows[g] for g in groups]) if groups else np.zeros(0, dtype=int)

    def _write(self, q: np.ndarray, groups: tuple[str, ...] | None = None) -> None:
        rows = self._rows_of(self._taken if groups is None else groups)
        self.data.ctrl[self._act[rows]] = q[rows]

    def _step_policy(self, command: np.ndarray) -> None:
        action = self.policy(self.observation(command))
        self.last_action = action
        self._write(self.default + self.cfg.action_scale * action)
        self.phase = np.fmod(self.phase + self._phase_step + math.pi, 2 * math.pi) - math.pi

    def observation(self, command: np.ndarray) -> np.ndarray:
        d = self.data
        q = d.qpos[self._qadr] - self.default
        qd = d.qvel[self._dadr].copy()
        # Joints it does not run now are seen at rest in its default pose, asked to stay there (module doc).
        q[self._unrun] = 0.0
        qd[self._unrun] = 0.0
        np.copyto(self._shown_action, self.last_action)
        self._shown_action[self._unrun] = 0.0
        rot = d.site_xmat[self._site].reshape(3, 3)
        terms = {
            "imu_linvel": self._linvel.data,
            "imu_gyro": self._gyro.data,
            "gravity": rot.T @ np.array([0.0, 0.0, -1.0]),
            "command": command,
            "joint_pos": q,
            "joint_vel": qd,
            "last_action": self._shown_action,
            "gait_phase": np.concatenate([np.cos(self.phase), np.sin(self.phase)]),
        }
        return np.concatenate([terms[t] for t in self.cfg.observation]).astype(np.float32)

    def _stable(self) -> bool:
        """Slow, upright, both feet on the floor and in line: a stance that freezes without tipping."""
        d, m = self.data, self.model
        if float(np.linalg.norm(self._drift)) >= STOP_SPEED or np.abs(self._gyro.data).max() >= STOP_GYRO:
            return False
        rot = d.site_xmat[self._site].reshape(3, 3)
        if math.acos(min(1.0, float(rot[2, 2]))) >= STOP_TILT:
            return False
        offset = rot.T @ (d.xpos[self._feet[0]] - d.xpos[self._feet[1]])
        if abs(offset[0]) >= FEET_IN_LINE_M:
            return False
        down: set[int] = set()
        for c in d.contact[: d.ncon]:
            if self._floor in c.geom:
                down.update(int(m.geom_bodyid[g]) for g in c.geom)
        return all(f in down for f in self._feet)

    def state(self) -> dict:
        return {
            "mode": self.mode,
            "requested": self.requested,
            "free": sorted(self.free),
            "taken": list(self._taken),
            "command": self.command.tolist(),
            "last_action": self.last_action.tolist(),
            "phase": self.phase.tolist(),
            "t": self._t,
            "from": self._from.tolist(),
            "drift": self._drift.tolist(),
            "yaw_rate": self._yaw_rate,
            "start_at": self._start_at,
            "catches": self.catches,
            "balance": self.balance.state(),
        }

    def restore(self, s: dict) -> None:
        self.mode, self.requested = s["mode"], s["requested"]
        self.free = set(s["free"])
        self._set_bias()
        self._take(tuple(s["taken"]))
        self.command = np.array(s["command"])
        self.last_action = np.array(s["last_action"], dtype=np.float32)
        self.phase = np.array(s["phase"])
        self._t, self._drift = float(s["t"]), np.array(s["drift"])
        self._from = np.array(s["from"])
        self._yaw_rate = float(s.get("yaw_rate", 0.0))
        self._start_at = float(s.get("start_at", 0.0))
        self.catches = int(s.get("catches", 0))
        if "balance" in s:
            self.balance.restore(s["balance"])
