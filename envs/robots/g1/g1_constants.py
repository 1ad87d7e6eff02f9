"""Names and numbers of the Unitree G1 (29 DoF) with Dex3 hands, as in menagerie's g1_with_hands.xml."""

from __future__ import annotations

from itertools import accumulate

MENAGERIE_NAME = "unitree_g1"
MENAGERIE_ENTRY = "g1_with_hands"
ROOT_BODY = "pelvis"
TORSO_BODY = "torso_link"
PELVIS_HEIGHT = 0.793  # feet 1 mm above the floor (at the keyframe's 0.79 they sit 2 mm into it)

_LEG = ("hip_pitch", "hip_roll", "hip_yaw", "knee", "ankle_pitch", "ankle_roll")
_ARM = ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow", "wrist_roll", "wrist_pitch", "wrist_yaw")
_HAND = ("thumb_0", "thumb_1", "thumb_2", "middle_0", "middle_1", "index_0", "index_1")

# Joint groups in GR00T's 43-D G1 state order: left_leg 0:6, right_leg 6:12, waist 12:15,
# left_arm 15:22, left_hand 22:29, right_arm 29:36, right_hand 36:43.
GROUP_JOINTS: dict[str, tuple[str, ...]] = {
    "left_leg": tuple(f"left_{j}_joint" for j in _LEG),
    "right_leg": tuple(f"right_{j}_joint" for j in _LEG),
    "waist": ("waist_yaw_joint", "waist_roll_joint", "waist_pitch_joint"),
    "left_arm": tuple(f"left_{j}_joint" for j in _ARM),
    "left_hand": tuple(f"left_hand_{j}_joint" for j in _HAND),
    "right_arm": tuple(f"right_{j}_joint" for j in _ARM),
    "right_hand": tuple(f"right_hand_{j}_joint" for j in _HAND),
}
STATE_DIM = sum(len(j) for j in GROUP_JOINTS.values())  # 43
# (start, end) of each group in the 43-D state and action: the ranges GR00T's modality.json lists.
_ENDS = [0, *accumulate(len(j) for j in GROUP_JOINTS.values())]
STATE_RANGES: dict[str, tuple[int, int]] = {
    g: (a, b) for g, a, b in zip(GROUP_JOINTS, _ENDS, _ENDS[1:], strict=False)
}

# rad/s the arm joints are held under in the lab (glassware, liquids): a safety limit of ours, far below
# what the G1's arm motors can do. The benchmark and the skill tests measure it in the simulator.
ARM_SPEED_LIMIT = 1.5

BASE_JOINTS = ("base_x", "base_y", "base_yaw")  # holonomic base model only

HANDS = ("left", "right")
ARM_OF = {"left": "left_arm", "right": "right_arm"}
HAND_OF = {"left": "left_hand", "right": "right_hand"}
WRIST_BODY = {"left": "left_wrist_yaw_link", "right": "right_wrist_yaw_link"}
FINGER_BODY_PREFIX = {"left": "left_hand_", "right": "right_hand_"}
EGO_CAMERA = "ego_view"  # GR00T's name for the G1's head/torso camera
# Cameras on the back of each Dex3 hand's wrist, looking along the fingers (added in g1_model.py).
WRIST_CAMERAS = {"left": "left_wrist", "right": "right_wrist"}
THUMB_BODIES = {side: (f"{side}_hand_thumb_1_link", f"{side}_hand_thumb_2_link") for side in HANDS}
# The fingers that oppose the thumb in a grip (the palm and the thumb's base do not).
FINGER_BODIES = {
    side: tuple(f"{side}_hand_{f}_{k}_link" for f in ("index", "middle") for k in (0, 1)) for side in HANDS
}


def _mirror(y: float, side: str) -> float:
    return y if side == "right" else -y


# Sites added on each wrist_yaw_link (menagerie's model has no hand sites). Palm normal is local +-y.
HAND_SITES: dict[str, dict[str, tuple[float, float, float]]] = {
    side: {
        "palm": (0.085, _mirror(0.017, side), 0.0),
        "grasp": (0.115, _mirror(0.052, side), 0.0),  # on the axis of a bottle held in a side grasp
        "pinch": (0.125, _mirror(0.085, side), 0.0),  # between thumb and finger tips
    }
    for side in HANDS
}

# Dex3 finger targets in GROUP_JOINTS order (thumb_0, thumb_1, thumb_2, middle_0, middle_1, index_0,
# index_1). The left hand mirrors all but thumb_0.
_RIGHT_OPEN = (0.0, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0)
_RIGHT_CLOSED = (0.0, -0.5, -1.3, 1.4, 1.6, 1.4, 1.6)


def finger_pose(side: str, closed: bool) -> tuple[float, ...]:
    pose = _RIGHT_CLOSED if closed else _RIGHT_OPEN
    if side == "right":
        return pose
    return (pose[0], *(-v for v in pose[1:]))


# Lower-body stiffness in stance hold: the reference story's fix for a body that sways under arm motion.
STANCE_KP = 5000.0
# The ankles stay softer: their actuators saturate at 50 Nm, so at STANCE_KP a few mrad of error is already
# full torque and the feet rock on their edges and creep. Measured, free base, 60 s of 1 Hz swings of both
# arms: ankle kp 5000 + menagerie's sole friction 0.6 -> feet crept 18-20 mm, base yawed 1.6 deg;
# ankle kp 1000 + FOOT_FRICTION -> feet <= 4 mm, yaw 0.8 deg (at 0.5 Hz: ~2 mm, 0.3 deg).
STANCE_ANKLE_KP = 1000.0
ANKLE_JOINTS = tuple(f"{side}_{j}_joint" for side in HANDS for j in ("ankle_pitch", "ankle_roll"))
# Sole friction (menagerie: 0.6), rubber soles on a lab floor.
FOOT_FRICTION = 1.0
FOOT_BODIES = ("left_ankle_roll_link", "right_ankle_roll_link")
