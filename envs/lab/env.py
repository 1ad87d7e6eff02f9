"""G1LabEnv: the embedded MuJoCo lab behind the Env protocol."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict
from pathlib import Path
from typing import Literal

import mujoco
import numpy as np
from numpy.typing import ArrayLike

from envs.base import (
    ContainerState,
    Embodiment,
    JointGroup,
    ObjectState,
    Observation,
    ReactionState,
    RobotState,
    WorldState,
)
from envs.chemistry import Chemistry, ContainerPose, Surface, load_rules
from envs.chemistry.liquids import ContainerLiquid
from envs.geometry import station_to_world, yaw_quat
from envs.lab.builder import build_lab
from envs.locomotion import Locomotion, PolicyError, load_policy_config, parse_locomotion
from envs.locomotion.gains import GainTable, default_profile
from envs.rendering.mesh_lod import use_decimated_visual_meshes
from envs.rendering.offthread import GeomLook, RenderThread, apply_looks
from envs.robots.g1 import g1_constants as g1
from envs.robots.g1.g1_model import STAND_POSE
from envs.scene_schema import FIXED_TYPES, ObjectType, SceneConfig, load_scene, sample

MeshQuality = Literal["decimated", "full"]

STATION_TOL_M = 0.05  # base within this of a station's working pose counts as "at" it
STATION_TOL_RAD = math.radians(5)
BASE_POS_GAIN = 2.0  # base velocity command + this x position error keeps the base on its planned path
MAX_QVEL = 200.0  # beyond this (rad/s or m/s) the simulation has blown up
# What a snapshot keeps of the simulator before a tick's last physics step (see ``restore``).
_STEP_STATE = mujoco.mjtState.mjSTATE_INTEGRATION
# A hand holds an object only when its thumb and an opposing finger each press on it with at least this
# normal force (N): a brush of the palm or a fingertip resting against it is not a grip. Measured grips:
# 2-8 N per side (top pinch of the block, side grasps of the bottles).
GRIP_FORCE_N = 0.5
MASS_STEP_KG = 0.001  # a container's simulated mass follows its liquid in steps this fine
SETTLE_S = 0.3
_BAD_STATE_WARNINGS = [
    int(mujoco.mjtWarning.mjWARN_BADQPOS),
    int(mujoco.mjtWarning.mjWARN_BADQVEL),
    int(mujoco.mjtWarning.mjWARN_BADQACC),
]


def _aabb_half(hx: float, hy: float, yaw: float) -> tuple[float, float]:
    """Half extents of the axis-aligned box around a rectangle turned by ``yaw``."""
    c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
    return c * hx + s * hy, s * hx + c * hy


class SimulationUnstable(RuntimeError):
    """The physics produced NaN or exploding velocities; the episode must stop."""


class G1LabEnv:
    """A Unitree G1 with Dex3 hands in a chemistry lab built from a scene YAML.

    Args:
        scene: a shipped scene name (``g1_lab``), a path to a scene YAML, or a SceneConfig.
        seed: seed for the object-pose randomization at the first reset.
        control_dt: seconds per control tick; physics runs at the model's 2 ms below it.
        mesh_quality: ``decimated`` (fast CPU rendering, cached on first use) or ``full``.
        locomotion: ``holonomic``, ``walker`` or ``walker:PATH`` (envs/locomotion); None takes the
            scene's ``robot.locomotion``, else its ``robot.base``.
    """

    def __init__(
        self,
        scene: str | Path | SceneConfig = "g1_lab",
        seed: int | None = None,
        control_dt: float = 0.02,
        mesh_quality: MeshQuality = "decimated",
        locomotion: str | Locomotion | None = None,
    ) -> None:
        if mesh_quality not in ("decimated", "full"):
            raise ValueError(f"mesh_quality must be 'decimated' or 'full', got {mesh_quality!r}")
        self.mesh_quality = mesh_quality
        self._requested_dt = control_dt
        self._renderers: dict[tuple[int, int, bool], mujoco.Renderer] = {}
        self._render_thread: RenderThread | None = None
        self._locomotion_arg = parse_locomotion(locomotion) if isinstance(locomotion, str) else locomotion
        self._build(scene if isinstance(scene, SceneConfig) else load_scene(scene))
        self.reset(seed)

    # ----------------------------------------------------------------- construction
    def _build(self, scene: SceneConfig) -> None:
        self.close()
        chosen = self._locomotion_arg or (
            parse_locomotion(scene.robot.locomotion) if scene.robot.locomotion else None
        )
        loc = chosen or Locomotion("holonomic")
        # An explicit choice sets the base; without one the scene's base stands (floating: stance only).
        base = scene.robot.base if chosen is None else "floating" if loc.kind == "walker" else "holonomic"
        if base != scene.robot.base:
            scene = scene.model_copy(update={"robot": scene.robot.model_copy(update={"base": base})})
        self.scene = scene
        self.locomotion = loc
        built = build_lab(scene)
        walker_cfg = None
        if loc.kind == "walker":
            from envs.locomotion.policy_file import resolve_policy_file
            from envs.locomotion.walker import add_imu

            assert loc.config is not None
            walker_cfg = load_policy_config(loc.config)
            policy_path = resolve_policy_file(walker_cfg, loc.config, loc.policy)
            add_imu(built.spec, walker_cfg)
        if self.mesh_quality == "decimated":
            use_decimated_visual_meshes(built.spec)
        self.model = built.spec.compile()
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.n_substeps = max(1, round(self._requested_dt / m.opt.timestep))
        self.control_dt = self.n_substeps * m.opt.timestep
        self._before_last_step = np.zeros(mujoco.mj_stateSize(m, _STEP_STATE))

        groups: dict[str, JointGroup] = {}
        offset = 0
        for name, joints in g1.GROUP_JOINTS.items():
            groups[name] = JointGroup(
                name=name,
                joints=joints,
                state_index=np.arange(offset, offset + len(joints)),
                ctrl_index=np.array([m.actuator(j).id for j in joints]),
            )
            offset += len(joints)
        all_joints = [j for js in g1.GROUP_JOINTS.values() for j in js]
        self._state_qpos = np.array([m.jnt_qposadr[m.joint(j).id] for j in all_joints])
        self._state_qvel = np.array([m.jnt_dofadr[m.joint(j).id] for j in all_joints])
        self._state_ctrl = np.array([m.actuator(j).id for j in all_joints])
        self.holonomic = scene.robot.base == "holonomic"
        if self.holonomic:
            self._base_qpos = np.array([m.jnt_qposadr[m.joint(j).id] for j in g1.BASE_JOINTS])
            self._base_ctrl = np.array([m.actuator(f"{j}_vel").id for j in g1.BASE_JOINTS])
        self.embodiment = Embodiment(
            robot="unitree_g1_with_hands",
            groups=groups,
            aliases={
                "legs": ("left_leg", "right_leg"),
                "arms": ("left_arm", "right_arm"),
                "hands": ("left_hand", "right_hand"),
            },
            base_mode=scene.robot.base,
            state_dim=g1.STATE_DIM,
            cameras=(g1.EGO_CAMERA, *g1.WRIST_CAMERAS.values()),
            effectors={side: f"{side}_pinch" for side in ("left", "right")},
        )
        self._pelvis = m.body(g1.ROOT_BODY).id
        self.gains = GainTable(m, {name: g.ctrl_index for name, g in groups.items()})
        self.walker = None
        if walker_cfg is not None:
            from envs.locomotion.walker import Walker

            if abs(walker_cfg.control_dt - self.control_dt) > 1e-9:
                raise PolicyError(
                    f"{loc.config}: walker '{walker_cfg.name}' runs at control_dt {walker_cfg.control_dt} s; "
                    f"this env ticks at {self.control_dt} s"
                )
            self.walker = Walker(
                walker_cfg,
                policy_path,
                m,
                self.data,
                g1.GROUP_JOINTS,
                self.gains,
                STAND_POSE,
                g1.FOOT_BODIES,
                g1.ROOT_BODY,
                g1.ANKLE_JOINTS,
            )

        self._free: dict[str, int] = {}
        self._mocap: dict[str, int] = {}
        self._body: dict[str, int] = {}
        for name, obj in scene.objects.items():
            bid = m.body(name).id
            self._body[name] = bid
            if obj.type in FIXED_TYPES:
                self._mocap[name] = int(m.body_mocapid[bid])
            else:
                self._free[name] = int(m.jnt_qposadr[m.joint(f"{name}_free").id])
        self._object_geom = {name: m.geom(name).id for name in scene.objects}
        # A cube rests flat on any of its faces: its tilt is measured from the nearest face-down pose.
        self._cube = {
            n
            for n, o in scene.objects.items()
            if o.shape == "box" and len(set(o.size)) == 1 and len(o.size) == 3
        }
        self._geom_object = {gid: name for name, gid in self._object_geom.items()}
        self._visual = {
            name: (m.geom(f"{name}_liquid").id, m.geom(f"{name}_foam").id) for name in scene.containers
        }
        # Every geom of a station's table: its top, and its base where the table has knee space.
        parts = {f"{s}_table{part}": s for s in scene.stations for part in ("", "_base")}
        self._table_geoms = {g: parts[m.geom(g).name] for g in range(m.ngeom) if m.geom(g).name in parts}
        self._floor_geom = m.geom("floor").id

        # Which body belongs to which hand, for grip detection from contacts.
        self._hand_of_body = np.full(m.nbody, -1, dtype=np.int8)
        self._thumb_body = np.zeros(m.nbody, dtype=bool)
        self._finger_body = np.zeros(m.nbody, dtype=bool)
        for k, side in enumerate(g1.HANDS):
            wrist = m.body(g1.WRIST_BODY[side]).id
            self._hand_of_body[wrist] = k
            for b in range(m.nbody):
                if m.body(b).name.startswith(g1.FINGER_BODY_PREFIX[side]):
                    self._hand_of_body[b] = k
            for t in g1.THUMB_BODIES[side]:
                self._thumb_body[m.body(t).id] = True
            for f in g1.FINGER_BODIES[side]:
                self._finger_body[m.body(f).id] = True
        # geom id -> object index (or -1), and what a geom is as a support: a station's table or an object.
        self._objects = list(scene.objects)
        self._geom_obj = np.full(m.ngeom, -1, dtype=np.int32)
        for name, gid in self._object_geom.items():
            self._geom_obj[gid] = self._objects.index(name)
        self._stations = list(scene.stations)
        self._geom_table = np.full(m.ngeom, -1, dtype=np.int32)
        for gid, st in self._table_geoms.items():
            self._geom_table[gid] = self._stations.index(st)
        self._free_dof = {name: int(m.jnt_dofadr[m.joint(f"{name}_free").id]) for name in self._free}
        self._rules = load_rules()
        self._tables = self._table_surfaces()
        # A container's scene mass is its mass as loaded with its contents: the vessel weighs the rest.
        self._vessel_kg: dict[str, float] = {}
        self._inertia_per_kg: dict[str, np.ndarray] = {}
        for name, obj in scene.containers.items():
            bid = self._body[name]
            liquid = self._liquid_kg(obj.container.contents)  # type: ignore[union-attr]
            if m.body_mass[bid] - liquid < 0.01:
                raise ValueError(
                    f"scene '{scene.name}': objects.{name}.mass is {obj.mass} kg with its contents, but "
                    f"the contents alone weigh {liquid:.3f} kg: give the mass of the filled container"
                )
            self._vessel_kg[name] = float(m.body_mass[bid]) - liquid
            self._inertia_per_kg[name] = m.body_inertia[bid] / m.body_mass[bid]
        # Weighed once the way every reset weighs them: the rounding of the first weighing (1e-19 in an
        # inertia) made a fresh env's first episode differ from every later one with the same seed.
        self._sync_masses({n: obj.container.contents for n, obj in scene.containers.items()}, force=True)  # type: ignore[union-attr]

    def _object_half_height(self, name: str) -> float:
        obj = self.scene.objects[name]
        if obj.type == ObjectType.ZONE:
            return 0.0005
        return obj.size[1] if obj.shape == "cylinder" else obj.size[2]

    # ----------------------------------------------------------------- episode
    def reset(self, seed: int | None = None, scene: str | Path | None = None) -> Observation:
        if scene is not None:
            self._build(load_scene(scene))
        self.seed = seed
        rng = np.random.default_rng(seed)
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        for joint, q in STAND_POSE.items():
            d.qpos[m.jnt_qposadr[m.joint(joint).id]] = q
        for side in g1.HANDS:
            hand = self.embodiment.groups[g1.HAND_OF[side]]
            d.qpos[self._state_qpos[hand.state_index]] = g1.finger_pose(side, False)

        start = self.scene.stations[self.scene.robot.start_station].robot_pose
        base = np.array([start[0], start[1], math.radians(start[2])])
        if self.holonomic:
            d.qpos[self._base_qpos] = base
        else:
            d.qpos[0:3] = [base[0], base[1], g1.PELVIS_HEIGHT]
            d.qpos[3:7] = yaw_quat(base[2])
        self._base_target = base.copy()
        self._base_vel = np.zeros(3)
        self.gains.set({g: default_profile(g) for g in self.gains.groups}, instant=self.gains.groups)
        if self.walker is not None:
            self.walker.reset()

        placed: dict[str, tuple[float, float, float]] = {}
        for name, obj in self.scene.objects.items():
            if obj.in_tray is not None:
                continue
            placed[name] = self._sample_pose(name, rng, placed)
        for name, obj in self.scene.objects.items():
            if obj.in_tray is not None:
                tx, ty, tyaw = placed[obj.in_tray]
                tray_top = self._top_of(obj.in_tray, placed[obj.in_tray])
                placed[name] = (tx, ty, tyaw)
                self._set_object_pose(name, (tx, ty, tray_top + self._object_half_height(name)), tyaw)
        d.ctrl[self._state_ctrl] = d.qpos[self._state_qpos]
        mujoco.mj_forward(m, d)
        mujoco.mj_step(m, d, nstep=round(SETTLE_S / m.opt.timestep))  # let objects come to rest
        d.time = 0.0
        mujoco.mj_forward(m, d)

        self.chemistry = Chemistry(
            rules=self._rules,
            containers={
                name: ContainerLiquid(
                    name=name,
                    radius=obj.size[0],
                    height=2 * obj.size[1],
                    capacity_ml=obj.container.capacity_ml,  # type: ignore[union-attr]
                    contents=dict(obj.container.contents),  # type: ignore[union-attr]
                )
                for name, obj in self.scene.containers.items()
            },
            surfaces=list(self._tables) + self._tray_surfaces(),
            trays={n: obj.in_tray for n, obj in self.scene.containers.items() if obj.in_tray is not None},
        )
        self._sync_masses(force=True)
        self.unstable: str | None = None
        return self.observation()

    # ----------------------------------------------------------------- liquid mass
    def _liquid_kg(self, contents: Mapping[str, float]) -> float:
        known = self._rules.liquids
        return sum(ml * (known[k].density_g_ml if k in known else 1.0) for k, ml in contents.items()) / 1e3

    def _sync_masses(
        self, contents: Mapping[str, Mapping[str, float]] | None = None, force: bool = False
    ) -> None:
        """Make each container's body weigh its vessel plus its liquid (``contents``, default: the
        chemistry's).

        Only a free body's own constants depend on its mass, and exactly in proportion (mass, inertia,
        inverse weights: its 6 dofs are decoupled from every other body's in the mass matrix), so they are
        scaled here; mj_setConst (4-5 ms on this model) would recompute the same values. The world body's
        subtree mass follows the change.
        """
        m = self.model
        if contents is None:
            contents = {name: c.contents for name, c in self.chemistry.containers.items()}
        for name, liquid in contents.items():
            bid = self._body[name]
            mass = self._vessel_kg[name] + self._liquid_kg(liquid)
            old = float(m.body_mass[bid])
            if not force and abs(mass - old) < MASS_STEP_KG:
                continue
            ratio = old / mass
            m.body_mass[bid] = mass
            m.body_subtreemass[bid] = mass
            m.body_subtreemass[0] += mass - old
            m.body_inertia[bid] = self._inertia_per_kg[name] * mass
            m.body_invweight0[bid] *= ratio
            dof = self._free_dof[name]
            m.dof_invweight0[dof : dof + 6] *= ratio

    def _sample_pose(self, name: str, rng: np.random.Generator, placed: dict) -> tuple[float, float, float]:
        obj = self.scene.objects[name]
        assert obj.station is not None and obj.pose is not None
        st = self.scene.stations[obj.station]
        footprint = obj.size[0] if obj.shape == "cylinder" else math.hypot(obj.size[0], obj.size[1])
        for _ in range(50):  # resample a pose that overlaps an object already placed
            sx, sy = sample(obj.pose.x, rng), sample(obj.pose.y, rng)
            yaw = math.radians(sample(obj.pose.yaw, rng) + st.robot_pose[2])
            wx, wy = station_to_world(st.robot_pose, sx, sy)
            if all(
                math.hypot(wx - px, wy - py) > footprint + self._footprint(other) + 0.01
                for other, (px, py, _) in placed.items()
                if self.scene.objects[other].type != ObjectType.ZONE and obj.type != ObjectType.ZONE
            ):
                break
        z = st.table.height + self._object_half_height(name)
        self._set_object_pose(name, (wx, wy, z), yaw)
        return (wx, wy, yaw)

    def _footprint(self, name: str) -> float:
        obj = self.scene.objects[name]
        return obj.size[0] if obj.shape == "cylinder" else math.hypot(obj.size[0], obj.size[1])

    def _top_of(self, name: str, pose: tuple[float, float, float]) -> float:
        st = self.scene.stations[self.scene.station_of(name)]
        return st.table.height + 2 * self._object_half_height(name)

    def _set_object_pose(self, name: str, pos: tuple[float, float, float], yaw: float) -> None:
        if name in self._mocap:
            self.data.mocap_pos[self._mocap[name]] = pos
            self.data.mocap_quat[self._mocap[name]] = yaw_quat(yaw)
        else:
            adr = self._free[name]
            self.data.qpos[adr : adr + 3] = pos
            self.data.qpos[adr + 3 : adr + 7] = yaw_quat(yaw)

    def _table_surfaces(self) -> tuple[Surface, ...]:
        out = []
        for name, st in self.scene.stations.items():
            cx, cy = station_to_world(st.robot_pose, *st.table.center)
            hx, hy = _aabb_half(st.table.size[0] / 2, st.table.size[1] / 2, math.radians(st.robot_pose[2]))
            out.append(Surface(f"{name}_table", cx - hx, cx + hx, cy - hy, cy + hy, st.table.height))
        return tuple(out)

    def _tray_surfaces(self) -> list[Surface]:
        out = []
        for name, obj in self.scene.objects.items():
            if obj.type == ObjectType.TRAY:
                i = self._mocap[name]
                p, q = self.data.mocap_pos[i], self.data.mocap_quat[i]
                yaw = math.atan2(2 * (q[0] * q[3] + q[1] * q[2]), 1 - 2 * (q[2] ** 2 + q[3] ** 2))
                hx, hy = _aabb_half(obj.size[0], obj.size[1], yaw)
                out.append(
                    Surface(name, p[0] - hx, p[0] + hx, p[1] - hy, p[1] + hy, float(p[2] + obj.size[2]))
                )
        return out

    # ----------------------------------------------------------------- stepping
    def step(self, command: Mapping[str, ArrayLike]) -> Observation:
        if self.unstable:
            raise SimulationUnstable(self.unstable)
        d = self.data
        # Check the whole command before writing any of it: a bad entry leaves the targets unchanged.
        writes = []
        base_vel = None
        for name, value in command.items():
            if name == "base":
                base_vel = self._check_base_command(value)
                continue
            group = self.embodiment.groups.get(name)
            if group is None:
                raise KeyError(self._unknown_group_message(name))
            v = np.asarray(value, dtype=float)
            if v.shape != group.state_index.shape or not np.isfinite(v).all():
                raise ValueError(
                    f"command for joint group '{name}' must be {group.size} finite joint targets "
                    f"({', '.join(group.joints)}), got {value!r}"
                )
            writes.append((group.ctrl_index, v))
        for index, v in writes:
            d.ctrl[index] = v
        if base_vel is not None:
            self._base_vel = base_vel
            if self.walker is not None:
                self.walker.set_command(base_vel)
        if self.walker is not None:
            self.walker.before_physics(self.control_dt)
        self.gains.tick()
        if self.holonomic:
            self._base_target += self._base_vel_world() * self.control_dt
            err = self._base_target - d.qpos[self._base_qpos]
            err[2] = (err[2] + math.pi) % (2 * math.pi) - math.pi
            d.ctrl[self._base_ctrl] = self._base_vel_world() + BASE_POS_GAIN * err
        t_before = d.time
        if not np.isfinite(d.qvel).all() or not np.isfinite(d.qpos).all():
            self.unstable = f"simulation unstable at t={t_before:.3f}s: NaN in the state"
            return self.observation()
        warnings_before = int(d.warning.number[_BAD_STATE_WARNINGS].sum())
        if self.n_substeps > 1:
            mujoco.mj_step(self.model, d, nstep=self.n_substeps - 1)
        mujoco.mj_getState(self.model, d, self._before_last_step, _STEP_STATE)
        mujoco.mj_step(self.model, d)
        # MuJoCo resets the data by itself when the state blows up: a new warning means it happened.
        blew_up = int(d.warning.number[_BAD_STATE_WARNINGS].sum()) > warnings_before
        if blew_up or np.abs(d.qvel).max() > MAX_QVEL:
            self.unstable = f"simulation unstable at t={t_before:.3f}s: NaN or exploding velocities"
            return self.observation()
        self.chemistry.step(self.control_dt, d.time, self._container_poses())
        self._sync_masses()
        return self.observation()

    def move_object(self, name: str, pos: tuple[float, float, float], yaw: float = 0.0) -> None:
        """Put an object at a world position (at rest, turned by ``yaw`` rad): a demonstration's distractor
        set aside, say. Contacts settle on the next step."""
        if name not in self._body:
            raise KeyError(f"unknown object '{name}'; objects: {', '.join(sorted(self._body))}")
        self._set_object_pose(name, pos, yaw)
        if name in self._free:
            dof = self.model.jnt_dofadr[self.model.joint(f"{name}_free").id]
            self.data.qvel[dof : dof + 6] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def command_targets(self) -> tuple[np.ndarray, np.ndarray]:
        """What the robot is commanded now: the 43 joint targets (state layout) and the base velocity
        (vx, vy, yaw_rate; zeros for a floating base)."""
        return self.data.ctrl[self._state_ctrl].copy(), self._base_vel.copy()

    def place_obstacle(self, xy: tuple[float, float]) -> None:
        """Put the obstacle box (0.3 x 0.3 x 1 m) on the floor at ``xy``; a reset parks it again."""
        self.data.mocap_pos[self.model.body_mocapid[self.model.body("obstacle").id]] = [xy[0], xy[1], 0.5]

    def set_gains(self, profiles: Mapping[str, str], free: frozenset[str] = frozenset()) -> None:
        """Gain profiles per joint group from their owners (envs/locomotion/gains.py); ``free`` are the
        groups nobody owns. The groups a walker drives go through it: ``walk`` starts it, another profile
        stops it into stance; while it walks it also runs the free groups its policy has joints of."""
        rest = {g: default_profile(g) for g in free}
        rest.update(profiles)
        if self.walker is not None:
            asked = {rest.pop(g) for g in self.walker.drives if g in rest}
            self.walker.request("walk" if "walk" in asked else "stance", set(free))
            for g in self.walker.taken:
                rest.pop(g, None)
        elif "walk" in rest.values():
            raise ValueError(
                f"gain profile 'walk' needs a walker; this env's locomotion is {self.locomotion}"
            )
        self.gains.set(rest)

    def _unknown_group_message(self, name: str) -> str:
        known = sorted(self.embodiment.groups) + (["base"] if self.holonomic or self.walker else [])
        if name in self.embodiment.aliases:
            parts = ", ".join(self.embodiment.aliases[name])
            return f"'{name}' is an alias ({parts}): command each group; known groups: {', '.join(known)}"
        return f"unknown joint group '{name}' in command; known groups: {', '.join(known)}"

    def _check_base_command(self, value: ArrayLike) -> np.ndarray:
        if not self.holonomic and self.walker is None:
            raise ValueError(
                f"scene '{self.scene.name}' has robot.base: floating (a free-standing G1): there is no "
                "base-velocity model, so 'base' cannot be commanded; use robot.base: holonomic or "
                "locomotion walker to drive it"
            )
        v = np.asarray(value, dtype=float)
        if self.walker is not None and self.walker.cfg.command.kind == "latent":
            n = len(self.walker.cfg.command.low)
            if v.shape != (n,) or not np.isfinite(v).all():
                raise ValueError(f"base command must be {n} finite numbers (a latent command), got {value!r}")
            return v
        if v.shape != (3,) or not np.isfinite(v).all():
            raise ValueError(f"base command must be 3 finite numbers (vx, vy, yaw_rate), got {value!r}")
        return v

    def _base_vel_world(self) -> np.ndarray:
        yaw = self.data.qpos[self._base_qpos[2]]
        c, s = math.cos(yaw), math.sin(yaw)
        vx, vy, wz = self._base_vel
        return np.array([c * vx - s * vy, s * vx + c * vy, wz])

    def _container_poses(self) -> dict[str, ContainerPose]:
        d = self.data
        poses = {}
        for name in self.chemistry.containers:
            bid = self._body[name]
            axis = d.xmat[bid].reshape(3, 3)[:, 2]
            poses[name] = ContainerPose(base=d.xpos[bid] - axis * self.scene.objects[name].size[1], axis=axis)
        return poses

    def base_pose(self) -> np.ndarray:
        d = self.data
        if self.holonomic:
            return d.qpos[self._base_qpos].copy()
        q = d.qpos[3:7]
        yaw = math.atan2(2 * (q[0] * q[3] + q[1] * q[2]), 1 - 2 * (q[2] ** 2 + q[3] ** 2))
        return np.array([d.qpos[0], d.qpos[1], yaw])

    def observation(self) -> Observation:
        d = self.data
        return Observation(
            time_s=float(d.time),
            state=d.qpos[self._state_qpos].copy(),
            velocity=d.qvel[self._state_qvel].copy(),
            base_pose=self.base_pose(),
            pelvis=None if self.holonomic else d.qpos[0:7].copy(),
        )

    # ----------------------------------------------------------------- world state
    def holding(self) -> dict[str, str | None]:
        """Which object each hand grips: its thumb and an opposing finger (index or middle) each press on
        the object with at least GRIP_FORCE_N (normal force summed over their contacts)."""
        return self._contacts()[0]

    def _contacts(self) -> tuple[dict[str, str | None], dict[str, str]]:
        """(what each hand grips, what each object stands on) from this step's contacts."""
        m, d = self.model, self.data
        held: dict[str, str | None] = {side: None for side in g1.HANDS}
        support: dict[str, str] = {}
        n = d.ncon
        if n == 0:
            return held, support
        geoms = d.contact.geom[:n]
        # Each contact as (object side, other side): a contact with an object on both sides appears twice.
        objs = self._geom_obj[geoms]
        idx = np.concatenate([np.nonzero(objs[:, 0] >= 0)[0], np.nonzero(objs[:, 1] >= 0)[0]])
        if idx.size == 0:
            return held, support
        side = np.concatenate(
            [np.zeros(int((objs[:, 0] >= 0).sum()), int), np.ones(int((objs[:, 1] >= 0).sum()), int)]
        )
        obj = objs[idx, side]
        other = geoms[idx, 1 - side]
        table = self._geom_table[other]
        for o, t in zip(obj[table >= 0], table[table >= 0], strict=True):
            support[self._objects[o]] = self._stations[t]
        body = m.geom_bodyid[other]
        hand = self._hand_of_body[body]
        force: dict[tuple[int, int], list[float]] = {}  # (hand, object) -> [thumb N, finger N]
        wrench = np.zeros(6)
        for i, o, h, b in zip(idx[hand >= 0], obj[hand >= 0], hand[hand >= 0], body[hand >= 0], strict=True):
            part = 0 if self._thumb_body[b] else 1 if self._finger_body[b] else -1
            if part >= 0:
                mujoco.mj_contactForce(m, d, int(i), wrench)
                force.setdefault((int(h), int(o)), [0.0, 0.0])[part] += wrench[0]
        for (h, o), (thumb, finger) in force.items():
            if thumb >= GRIP_FORCE_N and finger >= GRIP_FORCE_N:
                held[g1.HANDS[h]] = self._objects[o]
        # Of two objects in contact, the higher one stands on the lower (a flask on its tray).
        below = self._geom_obj[other]
        for o, o2 in zip(obj[below >= 0], below[below >= 0], strict=True):
            name, under = self._objects[o], self._objects[o2]
            if d.xpos[self._body[under]][2] < d.xpos[self._body[name]][2] - 0.005:
                support.setdefault(name, under)
        return held, support

    def _speed(self, name: str) -> float:
        dof = self._free_dof.get(name)
        if dof is None:
            return 0.0
        v = self.data.qvel[dof : dof + 3]
        return round(math.sqrt(float(v @ v)), 5)

    def _tilt_deg(self, name: str, bid: int) -> float:
        """Angle between the object's up axis and the world's (for a cube, its axis nearest vertical)."""
        up = abs(self.data.xmat[bid][6:9]).max() if name in self._cube else self.data.xmat[bid][8]
        return round(math.degrees(math.acos(float(np.clip(up, -1.0, 1.0)))), 2)

    def world_state(self) -> WorldState:
        d = self.data
        holding, support = self._contacts()
        held_by = {obj: side for side, obj in holding.items() if obj is not None}
        base = self.base_pose()
        pelvis_z = d.xmat[self._pelvis].reshape(3, 3)[:, 2]
        objects = {}
        zones = {n: o for n, o in self.scene.objects.items() if o.type == ObjectType.ZONE}
        for name, obj in self.scene.objects.items():
            bid = self._body[name]
            pos = d.xpos[bid]
            objects[name] = ObjectState(
                name=name,
                type=obj.type.value,
                pos=pos.round(5).tolist(),
                quat=d.xquat[bid].round(5).tolist(),
                tilt_deg=self._tilt_deg(name, bid),
                station=self.station_at_xy(pos[0], pos[1]),
                held_by=held_by.get(name),
                in_zone=None if obj.type == ObjectType.ZONE else self._zone_of(pos, zones),
                speed=self._speed(name),
                resting_on=support.get(name),
                mass_kg=round(float(self.model.body_mass[bid]), 5),
            )
        chem = self.chemistry
        return WorldState(
            time_s=round(float(d.time), 6),
            robot=RobotState(
                base_pose=base.round(5).tolist(),
                station=self.station_of_base(base),
                pelvis_height=round(float(d.xpos[self._pelvis][2]), 5),
                pelvis_tilt_deg=round(math.degrees(math.acos(float(np.clip(pelvis_z[2], -1, 1)))), 3),
                holding=holding,
                joints={
                    g.name: d.qpos[self._state_qpos[g.state_index]].round(4).tolist()
                    for g in self.embodiment.groups.values()
                },
            ),
            objects=objects,
            containers={
                name: ContainerState(
                    name=name,
                    contents_ml={k: round(v, 4) for k, v in c.contents.items() if v > 1e-6},
                    total_ml=round(c.total_ml, 4),
                    capacity_ml=c.capacity_ml,
                    poured_out_ml=round(c.poured_out_ml, 4),
                    received_ml=round(c.received_ml, 4),
                    foam_ml=round(c.foam_ml, 3),
                )
                for name, c in chem.containers.items()
            },
            spills_ml={loc: {k: round(v, 4) for k, v in mix.items()} for loc, mix in chem.spills.items()},
            spilled_ml=round(chem.spilled_ml, 4),
            foam_overflow_ml={k: round(v, 3) for k, v in chem.overflow_ml.items()},
            reactions=[
                ReactionState(r.reaction, r.container, round(r.started_s, 4), round(r.progress, 4))
                for r in chem.reactions
            ],
            stations=list(self.scene.stations),
            unstable=self.unstable,
        )

    def station_at_xy(self, x: float, y: float) -> str | None:
        for s in self._tables:
            if s.xmin <= x <= s.xmax and s.ymin <= y <= s.ymax:
                return s.name.removesuffix("_table")
        return None

    def working_pose(self, station: str) -> tuple[float, float, float]:
        """Where the robot stands at a station (x, y, yaw in degrees): the scene's pose, or on legs the
        walker's ``standoff_m`` behind it (stepping, the legs reach further forward than in stance)."""
        x, y, yaw = self.scene.stations[station].robot_pose
        back = self.walker.cfg.standoff_m if self.walker is not None else 0.0
        return (x - back * math.cos(math.radians(yaw)), y - back * math.sin(math.radians(yaw)), yaw)

    def station_of_base(self, base: np.ndarray) -> str | None:
        """The station whose working pose the base is at (on legs: the walker's, or the scene's, where a
        reset puts it)."""
        for name, st in self.scene.stations.items():
            for x, y, yaw in {self.working_pose(name), tuple(st.robot_pose)}:
                dyaw = abs((base[2] - math.radians(yaw) + math.pi) % (2 * math.pi) - math.pi)
                if math.hypot(base[0] - x, base[1] - y) <= STATION_TOL_M and dyaw <= STATION_TOL_RAD:
                    return name
        return None

    def _zone_of(self, pos: np.ndarray, zones: dict) -> str | None:
        for name, z in zones.items():
            zp = self.data.xpos[self._body[name]]
            if abs(pos[0] - zp[0]) <= z.size[0] and abs(pos[1] - zp[1]) <= z.size[1]:
                return name
        return None

    # ----------------------------------------------------------------- rendering
    @property
    def cameras(self) -> list[str]:
        return [self.model.camera(i).name for i in range(self.model.ncam)]

    def render(
        self, camera: str = "ego_view", width: int = 224, height: int = 224, antialias: bool = False
    ) -> np.ndarray:
        """An RGB frame (height, width, 3) uint8 from a named camera.

        ``antialias`` turns on 4x multisampling: smoother edges for people, about half the frame rate
        on CPU (envs/rendering/renderer.py says what else the fast setup does).
        """
        if camera not in self.cameras:
            raise ValueError(f"unknown camera '{camera}'; cameras: {', '.join(self.cameras)}")
        key = (width, height, antialias)
        renderer = self._renderers.get(key)
        if renderer is None:
            from envs.rendering.renderer import fast_renderer

            renderer = fast_renderer(self.model, width, height, antialias)
            self._renderers[key] = renderer
        looks = self._update_liquid_visuals()
        renderer.update_scene(self.data, camera=camera)
        apply_looks(renderer.scene, self.data, self.model, looks)
        return renderer.render()

    def render_later(self, cameras: Sequence[str], width: int = 224, height: int = 224) -> Future:
        """Frames ``{camera: (height, width, 3) uint8}`` of the state now, rendered off this thread
        (envs/rendering/offthread.py): what a policy asks for while the control loop keeps ticking."""
        unknown = [c for c in cameras if c not in self.cameras]
        if unknown:
            raise ValueError(f"unknown camera '{unknown[0]}'; cameras: {', '.join(self.cameras)}")
        looks = self._update_liquid_visuals()
        self._render_thread = RenderThread.following(self._render_thread, self.model)
        return self._render_thread.submit(self.data, cameras, width, height, looks=looks)

    def _update_liquid_visuals(self) -> list[GeomLook]:
        """Write the liquids' and foams' looks into the model (they change as the chemistry runs)."""
        looks = self._liquid_looks()
        for look in looks:
            look.write(self.model)
        return looks

    def _liquid_looks(self) -> list[GeomLook]:
        m = self.model
        looks = []
        for name, (liquid_g, foam_g) in self._visual.items():
            c = self.chemistry.containers[name]
            half = self.scene.objects[name].size[1]
            level = min(c.total_ml / c.capacity_ml, 1.0) * c.height
            size = m.geom_size[liquid_g].copy()
            size[1] = max(level / 2, 1e-4)
            mix = max(c.contents, key=lambda k: c.contents[k]) if c.total_ml > 1e-6 else None
            rgba = np.array(self._rules.liquids[mix].rgba if mix else (0, 0, 0, 0), float)
            looks.append(
                GeomLook(
                    liquid_g, size, np.array([0.0, 0.0, -half + level / 2]), rgba, m.geom_rbound[liquid_g]
                )
            )
            # Foam inside fills the room over the liquid; what ran over stands as a column above the rim
            # (at the liquid's ml per metre, capped at 25 cm) and coats the outside down to the bottom.
            ml_per_m = c.capacity_ml / c.height
            over = min(0.25, c.foam_overflow_ml / ml_per_m)
            top = -half + level + c.foam_ml / ml_per_m + over
            bottom = -half if over > 0 else -half + level
            if top - bottom > 1e-4:
                foam_h = top - bottom
                looks.append(
                    GeomLook(
                        foam_g,
                        np.array([c.radius * (1.2 if over > 0 else 1.05), foam_h / 2, 0]),
                        np.array([0.0, 0.0, (top + bottom) / 2]),
                        np.array(self._foam_rgba(name), float),
                        foam_h + 2 * c.radius,
                    )
                )
            else:
                looks.append(
                    GeomLook(
                        foam_g,
                        m.geom_size[foam_g].copy(),
                        m.geom_pos[foam_g].copy(),
                        np.zeros(4),
                        m.geom_rbound[foam_g],
                    )
                )
        return looks

    def _foam_rgba(self, container: str) -> tuple[float, float, float, float]:
        """The colour of the foam of the last reaction in this container."""
        runs = [r for r in self.chemistry.reactions if r.container == container]
        rules = self._rules.reactions
        return (rules[runs[-1].reaction] if runs else next(iter(rules.values()))).foam_rgba

    # ----------------------------------------------------------------- snapshots
    def snapshot(self) -> dict:
        """The full simulator and chemistry state as plain data (JSON-able), for checkpoints."""
        d = self.data
        chem = self.chemistry
        return {
            "seed": self.seed,
            "scene": self.scene.name,
            "time": float(d.time),
            **{
                k: getattr(d, k).tolist()
                for k in ("qpos", "qvel", "act", "ctrl", "mocap_pos", "mocap_quat", "qacc_warmstart")
            },
            "base_target": self._base_target.tolist(),
            "base_vel": self._base_vel.tolist(),
            "containers": {n: asdict(c) for n, c in chem.containers.items()},
            "spills": {k: dict(v) for k, v in chem.spills.items()},
            "overflow_ml": dict(chem.overflow_ml),
            "reactions": [vars(r).copy() for r in chem.reactions],
            "unstable": self.unstable,
            "gains": self.gains.state(),
            "walker": self.walker.state() if self.walker is not None else None,
            "masses": self._mass_state(),
            "before_last_step": self._before_last_step.tolist(),
        }

    def restore(self, snap: dict) -> None:
        """Put the simulator back in a snapshot's state (same scene; reset first)."""
        from envs.chemistry.liquids import ReactionRun

        if snap["scene"] != self.scene.name:
            raise ValueError(f"snapshot is of scene '{snap['scene']}', this env runs '{self.scene.name}'")
        d = self.data
        d.time = snap["time"]
        self._base_target = np.array(snap["base_target"])
        self._base_vel = np.array(snap["base_vel"])
        self.chemistry.containers = {n: ContainerLiquid(**c) for n, c in snap["containers"].items()}
        self.chemistry.spills = {k: dict(v) for k, v in snap["spills"].items()}
        self.chemistry.overflow_ml = dict(snap["overflow_ml"])
        self.chemistry.reactions = [ReactionRun(**r) for r in snap["reactions"]]
        self.unstable = snap["unstable"]
        if "gains" in snap:
            self.gains.restore(snap["gains"])
        if self.walker is not None and snap.get("walker"):
            self.walker.restore(snap["walker"])
        if "masses" in snap:
            self._restore_masses(snap["masses"])
        else:  # a snapshot from before masses were kept: weigh the liquid again
            self._sync_masses(force=True)
        if not self._redo_last_step(snap):
            for k in ("qpos", "qvel", "act", "ctrl", "mocap_pos", "mocap_quat", "qacc_warmstart"):
                getattr(d, k)[:] = np.asarray(snap[k]).reshape(getattr(d, k).shape)
            mujoco.mj_forward(self.model, d)

    def _redo_last_step(self, snap: dict) -> bool:
        """Reach the snapshot's state by its tick's last physics step. After ``mj_step`` the poses and
        sensors the controllers read are the ones of the step before (MuJoCo computes them before it
        integrates); ``mj_forward`` on the saved state gives newer ones, and on legs that 1e-9 grew into
        a walk that fell in the run and not in its replay. False, with ``data`` as it was, when the step
        does not land exactly on the snapshot (the state was edited after the tick: a reset, a move)."""
        before = snap.get("before_last_step")
        m, d = self.model, self.data
        if before is None or len(before) != len(self._before_last_step):
            return False
        now = np.zeros_like(self._before_last_step)
        mujoco.mj_getState(m, d, now, _STEP_STATE)
        mujoco.mj_setState(m, d, np.asarray(before), _STEP_STATE)
        mujoco.mj_step(m, d)
        landed = d.time == snap["time"] and all(
            np.array_equal(getattr(d, k), np.asarray(snap[k]).reshape(getattr(d, k).shape))
            for k in ("qpos", "qvel", "act", "qacc_warmstart")
        )
        if not landed:
            mujoco.mj_setState(m, d, now, _STEP_STATE)
            return False
        for k in ("ctrl", "mocap_pos", "mocap_quat"):
            getattr(d, k)[:] = np.asarray(snap[k]).reshape(getattr(d, k).shape)
        self._before_last_step[:] = before
        return True

    def _mass_state(self) -> dict:
        """The containers' mass constants as the model holds them. They follow the liquid in
        ``MASS_STEP_KG`` steps, so weighing the liquid again on restore gave a bottle up to 1 g off the
        run's, and the replay drifted from the run."""
        m = self.model
        bodies = {}
        for name in self.chemistry.containers:
            bid, dof = self._body[name], self._free_dof[name]
            bodies[name] = {
                "mass": float(m.body_mass[bid]),
                "inertia": m.body_inertia[bid].tolist(),
                "invweight0": m.body_invweight0[bid].tolist(),
                "dof_invweight0": m.dof_invweight0[dof : dof + 6].tolist(),
            }
        return {"bodies": bodies, "world_subtreemass": float(m.body_subtreemass[0])}

    def _restore_masses(self, state: dict) -> None:
        m = self.model
        for name, b in state["bodies"].items():
            bid, dof = self._body[name], self._free_dof[name]
            m.body_mass[bid] = m.body_subtreemass[bid] = b["mass"]
            m.body_inertia[bid] = b["inertia"]
            m.body_invweight0[bid] = b["invweight0"]
            m.dof_invweight0[dof : dof + 6] = b["dof_invweight0"]
        m.body_subtreemass[0] = state["world_subtreemass"]

    def close(self) -> None:
        for r in getattr(self, "_renderers", {}).values():
            r.close()
        self._renderers = {}
        if getattr(self, "_render_thread", None) is not None:
            self._render_thread.close()
            self._render_thread = None
