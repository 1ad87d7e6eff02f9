"""SO100Env: menagerie's SO-ARM100 on a table, a red block and a yellow zone (scenes/so100_block.yaml).

Joint groups: ``single_arm`` (Rotation, Pitch, Elbow, Wrist_Pitch, Wrist_Roll; GR00T's shoulder_pan,
shoulder_lift, elbow_flex, wrist_flex, wrist_roll) and ``gripper`` (Jaw). The state is those six joint
positions in that order, the SO-100 layout of GR00T's so100 data configs. The gripper holds the block
when the block touches both jaws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Annotated

import mujoco
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from envs.base import (
    Command,
    Embodiment,
    JointGroup,
    ObjectState,
    Observation,
    RobotState,
    WorldState,
)
from envs.rendering.offthread import RenderThread
from envs.scene_schema import SCENES_DIR, SceneError
from envs.validation import format_validation_error, read_yaml_mapping

ARM_JOINTS = ("Rotation", "Pitch", "Elbow", "Wrist_Pitch", "Wrist_Roll")
GRIPPER_JOINTS = ("Jaw",)
HOME = (0.0, -1.57, 1.57, 1.57, -1.57, 0.0)  # menagerie's "home" keyframe
GRASP_SITE = "grasp"  # where a block centre sits in the closed jaws: just inside the fixed jaw's pads
JAW_BODIES = ("Fixed_Jaw", "Moving_Jaw")

Range = float | tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BlockSpec(_Strict):
    size: Annotated[float, Field(gt=0.005, lt=0.06)]
    mass: Annotated[float, Field(gt=0)]
    rgba: tuple[float, float, float, float]
    x: Range
    y: Range
    yaw: Range = 0.0


class ZoneSpec(_Strict):
    size: tuple[float, float]
    rgba: tuple[float, float, float, float]
    x: Range
    y: Range


class CameraSpec(_Strict):
    pos: tuple[float, float, float]
    target: tuple[float, float, float]
    fovy: float = 45.0


class SO100Scene(_Strict):
    control_dt: Annotated[float, Field(gt=0)] = 0.02
    block: BlockSpec
    zone: ZoneSpec
    min_separation: float = 0.08
    cameras: dict[str, CameraSpec]


def load_so100_scene(name_or_path: str) -> SO100Scene:
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = SCENES_DIR / f"{name_or_path}.yaml"
    raw = read_yaml_mapping(path, SceneError, "scene")
    try:
        return SO100Scene.model_validate(raw)
    except ValidationError as e:
        raise SceneError(f"{path}: bad SO-100 scene\n{format_validation_error(e)}") from None


def _sample(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(*r)) if isinstance(r, tuple) else float(r)


def _load_arm() -> mujoco.MjSpec:
    import mujoco_menagerie

    from envs.robots.g1.g1_model import AssetError

    try:
        return mujoco_menagerie.get("trs_so_arm100").spec("so_arm100")
    except mujoco_menagerie.MenagerieError as e:
        raise AssetError(
            f"could not load the SO-ARM100 model from mujoco-menagerie: {e}\n"
            "offline? set MENAGERIE_ROOT to a folder holding trs_so_arm100/"
        ) from e


def _lookat_xyaxes(pos, target) -> list[float]:
    fwd = np.asarray(target, float) - np.asarray(pos, float)
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    return [*right, *up]


class SO100Env:
    """Args:
    scene: scene name (``so100_block``) or YAML path.
    seed: block and zone pose sampling.
    """

    def __init__(self, scene: str = "so100_block", seed: int | None = None, **_: object) -> None:
        # ``**_`` takes the G1 lab's options (mesh_quality) that callers pass to any scene's env.
        self.scene_name = scene
        self.scene = load_so100_scene(scene)
        spec = _load_arm()
        self._build(spec)
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.n_substeps = max(1, round(self.scene.control_dt / m.opt.timestep))
        self.control_dt = self.n_substeps * m.opt.timestep
        self._qpos = np.array([m.joint(j).qposadr[0] for j in (*ARM_JOINTS, *GRIPPER_JOINTS)])
        self._qvel = np.array([m.joint(j).dofadr[0] for j in (*ARM_JOINTS, *GRIPPER_JOINTS)])
        self._ctrl = np.array([m.actuator(j).id for j in (*ARM_JOINTS, *GRIPPER_JOINTS)])
        self.embodiment = Embodiment(
            robot="so100",
            groups={
                "single_arm": JointGroup("single_arm", ARM_JOINTS, np.arange(5), self._ctrl[:5]),
                "gripper": JointGroup("gripper", GRIPPER_JOINTS, np.arange(5, 6), self._ctrl[5:]),
            },
            aliases={"arm": ("single_arm",), "hand": ("gripper",)},
            base_mode="fixed",
            state_dim=6,
            effectors={"gripper": GRASP_SITE},
        )
        self._block_q = m.joint("red_block").qposadr[0]
        self._block_body = m.body("red_block").id
        self._jaw_bodies = {m.body(b).id for b in JAW_BODIES}
        self._block_geom = m.geom("red_block").id
        self._renderers: dict[tuple[int, int, bool], mujoco.Renderer] = {}
        self._render_thread: RenderThread | None = None
        self.zone_xy = np.zeros(2)
        self.reset(seed)

    def _build(self, spec: mujoco.MjSpec) -> None:
        s = self.scene
        spec.option.timestep = 0.002
        world = spec.worldbody
        world.add_light(pos=[0, -0.3, 1.2], dir=[0, 0, -1], type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL)
        world.add_geom(
            name="table", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[1.0, 1.0, 0.05], rgba=[0.55, 0.45, 0.35, 1]
        )
        world.add_geom(
            name="yellow_zone",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[s.zone.size[0] / 2, s.zone.size[1] / 2, 0.0005],
            pos=[0, -0.17, 0.0005],
            rgba=list(s.zone.rgba),
            contype=0,
            conaffinity=0,
        )
        half = s.block.size / 2
        block = world.add_body(name="red_block", pos=[0, -0.24, half])
        block.add_freejoint(name="red_block")
        block.add_geom(
            name="red_block",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[half, half, half],
            mass=s.block.mass,
            rgba=list(s.block.rgba),
            friction=[1.0, 0.005, 0.0001],
        )
        jaw = spec.body("Fixed_Jaw")
        jaw.add_site(name=GRASP_SITE, pos=[-0.007, -0.085, 0.0], size=[0.004, 0.004, 0.004])
        # Looks down the jaws from behind the wrist (the camera's -z is the jaw's -y, towards the tips).
        jaw.add_camera(name="wrist", pos=[0.0, -0.02, 0.05], xyaxes=[1, 0, 0, 0, 0, -1], fovy=75)
        for name, cam in s.cameras.items():
            world.add_camera(
                name=name, pos=list(cam.pos), xyaxes=_lookat_xyaxes(cam.pos, cam.target), fovy=cam.fovy
            )

    # ----------------------------------------------------------------- Env protocol
    @property
    def cameras(self) -> list[str]:
        return [self.model.camera(i).name for i in range(self.model.ncam)]

    def reset(self, seed: int | None = None, scene: str | None = None) -> Observation:
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        rng = np.random.default_rng(seed)
        s = self.scene
        for _ in range(100):
            bx, by = _sample(rng, s.block.x), _sample(rng, s.block.y)
            zx, zy = _sample(rng, s.zone.x), _sample(rng, s.zone.y)
            if math.hypot(bx - zx, by - zy) >= s.min_separation:
                break
        yaw = math.radians(_sample(rng, s.block.yaw))
        d.qpos[self._qpos] = HOME
        d.ctrl[self._ctrl] = HOME
        q = self._block_q
        d.qpos[q : q + 3] = [bx, by, s.block.size / 2]
        d.qpos[q + 3 : q + 7] = [math.cos(yaw / 2), 0, 0, math.sin(yaw / 2)]
        self.zone_xy = np.array([zx, zy])
        m.geom_pos[m.geom("yellow_zone").id][:2] = self.zone_xy
        mujoco.mj_forward(m, d)
        return self.observation()

    def observation(self) -> Observation:
        d = self.data
        return Observation(
            time_s=float(d.time),
            state=d.qpos[self._qpos].copy(),
            velocity=d.qvel[self._qvel].copy(),
            base_pose=np.zeros(3),
        )

    def step(self, command: Command) -> Observation:
        for name, value in command.items():
            group = self.embodiment.groups.get(name)
            if group is None:
                raise KeyError(f"unknown joint group '{name}'; the SO-100 has: single_arm, gripper")
            v = np.asarray(value, float).reshape(-1)
            if v.shape != (group.size,) or not np.all(np.isfinite(v)):
                raise ValueError(f"command for '{name}' must be {group.size} finite values, got {v.tolist()}")
            self.data.ctrl[group.ctrl_index] = v
        mujoco.mj_step(self.model, self.data, nstep=self.n_substeps)
        return self.observation()

    def command_targets(self) -> tuple[np.ndarray, np.ndarray]:
        """The joint targets commanded now, in state order, and the base velocity (none: a fixed base)."""
        return self.data.ctrl[self._ctrl].copy(), np.zeros(0)

    def holding(self) -> str | None:
        """The block is held when it touches both jaws."""
        d, m = self.data, self.model
        touched = set()
        for c in d.contact[: d.ncon]:
            for a, b in ((c.geom1, c.geom2), (c.geom2, c.geom1)):
                if a == self._block_geom:
                    body = m.geom_bodyid[b]
                    if body in self._jaw_bodies:
                        touched.add(body)
        return "red_block" if len(touched) == 2 else None

    def world_state(self) -> WorldState:
        d = self.data
        held = self.holding()
        bid = self._block_body
        pos = d.xpos[bid]
        up = float(np.abs(d.xmat[bid][6:9]).max())
        tilt = round(math.degrees(math.acos(min(1.0, up))), 2)
        half = np.asarray(self.scene.zone.size) / 2
        on_table = pos[2] < self.scene.block.size * 0.75
        in_zone = bool(np.all(np.abs(pos[:2] - self.zone_xy) <= half)) and on_table and held is None
        q = d.xquat[bid]
        objects = {
            "red_block": ObjectState(
                "red_block",
                "block",
                [round(float(x), 5) for x in pos],
                q.round(5).tolist(),
                tilt,
                "table",
                "gripper" if held else None,
                "yellow_zone" if in_zone else None,
            ),
            "yellow_zone": ObjectState(
                "yellow_zone",
                "zone",
                [*self.zone_xy.round(5).tolist(), 0.0],
                [1.0, 0, 0, 0],
                0.0,
                "table",
                None,
            ),
        }
        state = d.qpos[self._qpos]
        robot = RobotState(
            base_pose=[0.0, 0.0, 0.0],
            station="table",
            pelvis_height=0.0,
            pelvis_tilt_deg=0.0,
            holding={"gripper": held},
            joints={"single_arm": state[:5].round(5).tolist(), "gripper": state[5:].round(5).tolist()},
        )
        unstable = None if np.all(np.isfinite(d.qpos)) else "NaN in the simulator state"
        return WorldState(
            time_s=float(d.time),
            robot=robot,
            objects=objects,
            containers={},
            spills_ml={},
            spilled_ml=0.0,
            foam_overflow_ml={},
            reactions=[],
            stations=["table"],
            unstable=unstable,
        )

    def render(
        self, camera: str = "front", width: int = 224, height: int = 224, antialias: bool = False
    ) -> np.ndarray:
        if camera not in self.cameras:
            raise ValueError(f"unknown camera '{camera}'; cameras: {', '.join(self.cameras)}")
        r = self._renderers.get((width, height, antialias))
        if r is None:
            from envs.rendering.renderer import fast_renderer

            r = self._renderers[(width, height, antialias)] = fast_renderer(
                self.model, width, height, antialias
            )
        r.update_scene(self.data, camera=camera)
        return r.render()

    def render_later(self, cameras: Sequence[str], width: int = 224, height: int = 224) -> Future:
        """Frames ``{camera: (height, width, 3) uint8}`` of the state now, rendered off this thread."""
        unknown = [c for c in cameras if c not in self.cameras]
        if unknown:
            raise ValueError(f"unknown camera '{unknown[0]}'; cameras: {', '.join(self.cameras)}")
        self._render_thread = RenderThread.following(self._render_thread, self.model)
        return self._render_thread.submit(self.data, cameras, width, height)

    def close(self) -> None:
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()
        if self._render_thread is not None:
            self._render_thread.close()
            self._render_thread = None
