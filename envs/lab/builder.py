"""Assemble the lab's MjSpec from a SceneConfig: the G1, floor, light, tables, objects and cameras.

Free objects get a freejoint and fixed fixtures (trays, zones) are mocap bodies, so one compiled model
serves every seed: the env samples poses at reset and writes them into qpos / mocap_pos.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco

from envs.geometry import lookat_quat, station_to_world, yaw_quat
from envs.robots.g1 import g1_constants as g1
from envs.robots.g1.g1_model import build_g1, load_g1_spec
from envs.scene_schema import FIXED_TYPES, ObjectType, SceneConfig

THIRD_PERSON_EYE = (-1.3, -1.5, 1.9)
# The follow camera rides behind and left of the pelvis at this offset (world frame), looking at the
# table in front of the robot: a video then shows every station the robot walks to.
FOLLOW_OFFSET = (-1.2, -1.5, 1.0)
FOLLOW_LOOK_AT = (0.45, 0.0, 0.1)
OBSTACLE = "obstacle"


@dataclass(frozen=True)
class BuiltLab:
    spec: mujoco.MjSpec
    scene: SceneConfig


def build_lab(scene: SceneConfig, stance_kp: float = g1.STANCE_KP) -> BuiltLab:
    spec = load_g1_spec()
    build_g1(spec, scene.robot.base, stance_kp)
    spec.modelname = scene.name
    opt = spec.option
    # Elliptic cones with impratio 10 stop a gripped bottle from creeping (0.4 mm over 5 s, sim-notes).
    opt.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    opt.impratio = 10.0
    spec.visual.global_.offwidth = 1280
    spec.visual.global_.offheight = 960
    spec.stat.center = [0.5, 1.2, 0.8]
    spec.stat.extent = 2.5

    world = spec.worldbody
    floor_mat = spec.add_material(name="floor", rgba=[0.42, 0.45, 0.48, 1.0])
    world.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.05], material=floor_mat.name)
    world.add_light(
        name="ceiling", pos=[0.5, 1.2, 3.5], dir=[0, 0, -1], diffuse=[0.7, 0.7, 0.7], castshadow=False
    )
    world.add_light(
        name="fill", pos=[-1.5, -1.5, 2.5], dir=[0.5, 0.5, -0.5], diffuse=[0.3, 0.3, 0.3], castshadow=False
    )

    for name, st in scene.stations.items():
        t = st.table
        yaw = st.robot_pose[2] * 3.141592653589793 / 180
        quat = yaw_quat(yaw).tolist()
        # One box, or with knee space a top (an apron down to its height) over a base set back from the robot.
        under = t.knee_space.height if t.knee_space else 0.0
        cx, cy = station_to_world(st.robot_pose, *t.center)
        world.add_geom(
            name=f"{name}_table",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[t.size[0] / 2, t.size[1] / 2, (t.height - under) / 2],
            pos=[cx, cy, (t.height + under) / 2],
            quat=quat,
            rgba=list(t.rgba),
        )
        if t.knee_space:
            depth = t.size[0] - t.knee_space.depth
            bx, by = station_to_world(st.robot_pose, t.center[0] + t.knee_space.depth / 2, t.center[1])
            world.add_geom(
                name=f"{name}_table_base",
                type=mujoco.mjtGeom.mjGEOM_BOX,
                size=[depth / 2, t.size[1] / 2, under / 2],
                pos=[bx, by, under / 2],
                quat=quat,
                rgba=list(t.rgba),
            )

    bench = scene.stations[scene.robot.start_station]
    target = (*station_to_world(bench.robot_pose, 0.35, 0.0), 0.9)
    world.add_camera(
        name="third_person",
        pos=list(THIRD_PERSON_EYE),
        quat=lookat_quat(THIRD_PERSON_EYE, target).tolist(),
        fovy=50.0,
    )
    pelvis_at = (0.0, 0.0, g1.PELVIS_HEIGHT)  # in the build pose: base at the origin, yaw 0
    spec.body(g1.ROOT_BODY).add_camera(
        name="follow",
        mode=mujoco.mjtCamLight.mjCAMLIGHT_TRACK,  # keeps its world-frame offset and orientation
        pos=list(FOLLOW_OFFSET),
        quat=lookat_quat(
            [a + b for a, b in zip(pelvis_at, FOLLOW_OFFSET, strict=True)],
            [a + b for a, b in zip(pelvis_at, FOLLOW_LOOK_AT, strict=True)],
        ).tolist(),
        fovy=55.0,
    )

    # Parked below the floor; fault injection moves it onto a station's working spot ("blocked").
    obstacle = world.add_body(name=OBSTACLE, mocap=True, pos=[0.0, 0.0, -5.0])
    obstacle.add_geom(
        name=OBSTACLE, type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.15, 0.15, 0.5], rgba=[0.9, 0.4, 0.1, 1]
    )

    for name, obj in scene.objects.items():
        body = world.add_body(name=name, mocap=obj.type in FIXED_TYPES)
        if obj.type not in FIXED_TYPES:
            body.add_freejoint(name=f"{name}_free")
        if obj.type == ObjectType.ZONE:
            # A painted square on the table: seen, never touched.
            body.add_geom(
                name=name,
                type=mujoco.mjtGeom.mjGEOM_BOX,
                size=[obj.size[0], obj.size[1], 0.0005],
                rgba=list(obj.rgba),
                contype=0,
                conaffinity=0,
            )
            continue
        gtype = mujoco.mjtGeom.mjGEOM_CYLINDER if obj.shape == "cylinder" else mujoco.mjtGeom.mjGEOM_BOX
        body.add_geom(
            name=name,
            type=gtype,
            size=list(obj.size) + ([0.0] if obj.shape == "cylinder" else []),
            mass=obj.mass,
            rgba=list(obj.rgba),
            friction=[obj.friction, 0.02, 0.001],
            condim=4,
        )
        if obj.container is not None:
            # Visual-only liquid and foam columns, resized from the chemistry state before each render.
            for part in ("liquid", "foam"):
                body.add_geom(
                    name=f"{name}_{part}",
                    type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                    size=[obj.size[0] * 0.9, 1e-4, 0],
                    rgba=[1, 1, 1, 0],
                    contype=0,
                    conaffinity=0,
                    group=1,
                )
    return BuiltLab(spec=spec, scene=scene)
