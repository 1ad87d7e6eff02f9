"""The G1 model as an MjSpec, adapted for the lab: hand sites, the ego camera, base mode, stance gains."""

from __future__ import annotations

import math
import os
from typing import Literal

import mujoco
import mujoco_menagerie

from envs.geometry import lookat_quat, xyaxes_quat
from envs.robots.g1 import g1_constants as c

EGO_PITCH_DEG = 55.0  # the ego camera looks down at the bench
EGO_FOVY_DEG = 80.0
# Wrist cameras, in the right wrist_yaw_link frame (x along the fingers, palm towards +y; the left hand
# mirrors y): above the back of the wrist, looking past the fingertips at what the hand grasps.
WRIST_CAMERA_EYE = (0.0, -0.01, 0.07)
WRIST_CAMERA_TARGET = (0.16, 0.06, 0.0)
WRIST_FOVY_DEG = 90.0


class AssetError(RuntimeError):
    """The G1 model could not be loaded (typically: no network and no MENAGERIE_ROOT)."""


def load_g1_spec() -> mujoco.MjSpec:
    """Menagerie's G1 with Dex3 hands; downloads once, or reads MENAGERIE_ROOT when set."""
    try:
        return mujoco_menagerie.get(c.MENAGERIE_NAME).spec(c.MENAGERIE_ENTRY)
    except mujoco_menagerie.MenagerieError as e:
        root = os.environ.get("MENAGERIE_ROOT")
        hint = (
            f"MENAGERIE_ROOT={root} has no usable unitree_g1/ folder"
            if root
            else "offline? set MENAGERIE_ROOT to a folder holding unitree_g1/ (e.g. ../shared/menagerie)"
        )
        raise AssetError(f"could not load the Unitree G1 model from mujoco-menagerie: {e}\n{hint}") from e


def _robot_bodies(spec: mujoco.MjSpec) -> list[mujoco.MjsBody]:
    root = spec.body(c.ROOT_BODY)
    return [root, *root.find_all(mujoco.mjtObj.mjOBJ_BODY)]


def _set_kp(act: mujoco.MjsActuator, kp: float) -> None:
    act.gainprm[0] = kp
    act.biasprm[1] = -kp


def build_g1(
    spec: mujoco.MjSpec,
    base: Literal["holonomic", "floating"],
    stance_kp: float,
    ankle_kp: float = c.STANCE_ANKLE_KP,
) -> None:
    """Adapt the G1 in place (``spec`` comes from ``load_g1_spec``).

    Hips, knees and waist get ``stance_kp``; the ankles ``min(stance_kp, ankle_kp)`` (see g1_constants).
    """
    for side, sites in c.HAND_SITES.items():
        wrist = spec.body(c.WRIST_BODY[side])
        for name, pos in sites.items():
            wrist.add_site(name=f"{side}_{name}", pos=list(pos), size=[0.006, 0, 0], group=5)

    a = math.radians(EGO_PITCH_DEG)
    spec.body(c.TORSO_BODY).add_camera(
        name="ego_view",
        pos=[0.08, 0.0, 0.42],
        fovy=EGO_FOVY_DEG,
        quat=xyaxes_quat([0.0, -1.0, 0.0], [math.sin(a), 0.0, math.cos(a)]),
    )
    for side, name in c.WRIST_CAMERAS.items():
        flip = [1.0, 1.0 if side == "right" else -1.0, 1.0]
        eye = [a * f for a, f in zip(WRIST_CAMERA_EYE, flip, strict=True)]
        target = [a * f for a, f in zip(WRIST_CAMERA_TARGET, flip, strict=True)]
        spec.body(c.WRIST_BODY[side]).add_camera(
            name=name, pos=eye, quat=lookat_quat(eye, target).tolist(), fovy=WRIST_FOVY_DEG
        )

    legs_and_waist = set(c.GROUP_JOINTS["left_leg"] + c.GROUP_JOINTS["right_leg"] + c.GROUP_JOINTS["waist"])
    for act in spec.actuators:
        if act.name in legs_and_waist:
            _set_kp(act, min(stance_kp, ankle_kp) if act.name in c.ANKLE_JOINTS else stance_kp)
    for foot in c.FOOT_BODIES:
        for geom in spec.body(foot).geoms:
            if geom.type == mujoco.mjtGeom.mjGEOM_SPHERE:  # the sole's contact points (class "foot")
                geom.friction = [c.FOOT_FRICTION, *geom.friction[1:]]

    if base == "holonomic":
        pelvis = spec.body(c.ROOT_BODY)
        for j in list(pelvis.joints):
            if j.type == mujoco.mjtJoint.mjJNT_FREE:
                spec.delete(j)
        pelvis.pos = [0.0, 0.0, c.PELVIS_HEIGHT]
        for name, jtype, axis in (
            ("base_x", mujoco.mjtJoint.mjJNT_SLIDE, [1, 0, 0]),
            ("base_y", mujoco.mjtJoint.mjJNT_SLIDE, [0, 1, 0]),
            ("base_yaw", mujoco.mjtJoint.mjJNT_HINGE, [0, 0, 1]),
        ):
            pelvis.add_joint(name=name, type=jtype, axis=axis, armature=1.0)
        for name, kv in (("base_x", 2000.0), ("base_y", 2000.0), ("base_yaw", 300.0)):
            act = spec.add_actuator(name=f"{name}_vel", target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
            act.set_to_velocity(kv=kv)
            # Bounded push: against an obstacle the base stalls instead of blowing up the contact solver.
            act.forcelimited = True
            act.forcerange = [-kv / 4, kv / 4]
        # The base model stands in for a balance controller: weight is carried, joints stay where commanded.
        for body in _robot_bodies(spec):
            body.gravcomp = 1.0
        for j in spec.joints:
            if j.name not in ("base_x", "base_y", "base_yaw") and j.type == mujoco.mjtJoint.mjJNT_HINGE:
                j.actgravcomp = True
    for key in list(spec.keys):
        spec.delete(key)  # the menagerie keyframe assumes a free base; the env sets the stand pose by name


STAND_POSE: dict[str, float] = {
    "left_hip_pitch_joint": 0.0,
    "right_hip_pitch_joint": 0.0,
    "left_shoulder_pitch_joint": 0.2,
    "left_shoulder_roll_joint": 0.28,  # thumbs clear of the hips so a hand can close at its side
    "left_elbow_joint": 1.28,
    "right_shoulder_pitch_joint": 0.2,
    "right_shoulder_roll_joint": -0.28,
    "right_elbow_joint": 1.28,
}
