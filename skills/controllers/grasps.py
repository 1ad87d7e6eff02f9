"""Hand frames and object geometry for side grasps, top pinches and placing.

Hand-site frames (g1_constants.HAND_SITES): local x runs along the fingers, the palm normal is local +y
on the right hand and -y on the left. With the identity rotation both hands hold a bottle upright,
fingers forward, palm facing the body's midline; a yaw turns that about the vertical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from envs.base import WorldState
from envs.scene_schema import ObjectConfig, ObjectType

SITE_RADIUS = 0.033  # the grasp site sits on the axis of a cylinder this wide held against the palm
HAND_BELOW_GRASP = 0.045  # m how far the fingers reach below the grasp site in a side grasp
FINGER_TABLE_GAP = 0.01  # m, the least gap between the fingers and the table in a side grasp
FINGER_REACH = 0.06  # m the closed-off fingertips reach past the grasp site along the fingers
PALM_BELOW_GRASP = 0.03  # m the palm and the wrist reach below the grasp site in a side grasp
HAND_CLEARANCE = 0.045  # m: palm half-thickness plus margin, between the hand's path and other objects
WRIST_BEHIND = 0.11  # m the wrist sits behind the grasp site along the fingers
# The top pinch of the 4 cm block is a thumb-finger pinch on two opposite faces. Dex3's index and middle
# fingertips are 31 mm apart inside, so a block centred under the hand jams between them on its top edges,
# and opening them flicked it 3-26 mm. Here the thumb swings across to one finger's line (thumb_0), that
# finger comes down curled (its pad vertical) in front of the block, the other stays up clear of it, and
# the thumb closes and presses the block against the pad. The index's pinch and the middle's mirror each
# other about the site (PickExecutor._pinch tries the index's first).
PINCH_HEIGHT = 0.022  # pinch site above the table
# Where the block's centre sits from the pinch site (site frame): behind it along the fingers (the pad
# comes down 4-5 mm in front of the block's face) and across towards the pinching finger (its pad mid-face;
# + for the index, - for the middle).
PINCH_FORWARD = -0.014
PINCH_ACROSS = {"index": 0.024, "middle": -0.024}
# Right-hand finger targets of the index's pinch (GROUP_JOINTS order): the approach (finger curled, thumb
# open), the grip (the thumb pressing on past the block's far face) and the release (thumb and finger open,
# the thumb keeping its swing: swung back across, it would drag on the block's face). The middle's pinch
# swaps the fingers and swings the thumb the other way; the left hand mirrors all but thumb_0.
_RIGHT_PINCH = {
    "approach": (-1.0, 0.3, 0.0, 0.3, 0.3, 0.9, 0.9),
    "grip": (-1.0, 0.0, -1.4, 0.3, 0.3, 1.0, 1.0),
    "release": (-1.0, 0.3, 0.0, 0.3, 0.3, 0.5, 0.5),
}


def rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def mirror(side: str) -> float:
    """+1 for the right hand, -1 for the left: flips lateral signs."""
    return 1.0 if side == "right" else -1.0


def pinch_pose(side: str, finger: str, phase: str) -> tuple[float, ...]:
    """Finger targets of the block pinch with ``finger`` (index/middle), ``phase`` approach/grip/release."""
    t0, t1, t2, m0, m1, i0, i1 = _RIGHT_PINCH[phase]
    p = (t0, t1, t2, m0, m1, i0, i1) if finger == "index" else (-t0, t1, t2, i0, i1, m0, m1)
    return p if side == "right" else (p[0], *(-v for v in p[1:]))


def pinch_finger(hand: np.ndarray) -> str:
    """Which finger a hand's measured pose pinches with: the thumb swings towards it (thumb_0)."""
    return "index" if hand[0] <= 0.0 else "middle"


def side_grasp_rot(side: str, yaw: float) -> np.ndarray:
    """Upright side grasp; ``yaw`` > 0 turns the fingers outward (away from the midline)."""
    return rot_z(-mirror(side) * yaw)


def top_pinch_rot(side: str, yaw: float) -> np.ndarray:
    """Palm down, fingers forward turned by ``yaw`` about the vertical (world frame)."""
    return rot_z(yaw) @ rot_x(-mirror(side) * math.pi / 2)


def tilt_rot(side: str, angle: float) -> np.ndarray:
    """Local rotation tilting a held bottle by ``angle`` so that the palm ends on top of it."""
    return rot_x(-mirror(side) * angle)


def palm_normal(side: str, rot: np.ndarray) -> np.ndarray:
    """World direction the palm faces (from the palm towards a held object)."""
    return rot[:, 1] * mirror(side)


@dataclass(frozen=True)
class Shape:
    """What the grasp planner needs of an object: footprint radius and half height."""

    cylinder: bool
    radius: float
    half_height: float

    @classmethod
    def of(cls, obj: ObjectConfig) -> Shape:
        if obj.shape == "cylinder":
            return cls(True, obj.size[0], obj.size[1])
        half_height = obj.size[2] if len(obj.size) > 2 else 0.0  # zones are flat
        return cls(False, math.hypot(obj.size[0], obj.size[1]), half_height)


def side_grasp_height(shape: Shape, bottom_z: float) -> float:
    """Grasp below the middle (the mouth then reaches further when pouring), fingers clear of the table
    by a margin, except that a short object is held no higher than its middle where the fingers still
    clear the table: the 10 cm catalyst cup held 3 cm below its rim was squeezed 2 cm down and 15-20
    degrees over in the hand as a carry on legs lowered it, and slid out as it was set down."""
    preferred = max(bottom_z + HAND_BELOW_GRASP + 0.025, bottom_z + 0.8 * shape.half_height)
    return max(bottom_z + HAND_BELOW_GRASP + FINGER_TABLE_GAP, min(preferred, bottom_z + shape.half_height))


def block_yaw(quat: list[float], base_yaw: float) -> float:
    """World yaw for a pinch closing on two faces of the block: its yaw within 45 deg of the base's (any
    quarter turn of it closes on two faces too)."""
    w, x, y, z = quat
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)) - base_yaw
    return base_yaw + (yaw + math.pi / 4) % (math.pi / 2) - math.pi / 4


def corridor_clearance(
    objects: dict[str, ObjectConfig],
    world: WorldState,
    a: np.ndarray,
    b: np.ndarray,
    offsets: list[np.ndarray],
    ignore: str,
    above: float = -math.inf,
) -> float:
    """Smallest horizontal gap between standing objects and the hand's move a -> b (site positions),
    swept for each point of the hand at ``offsets`` from the site; the palm starts SITE_RADIUS behind a.
    Objects whose top is below ``above`` (world z) pass under the hand and do not count."""
    palm_a = a - (b - a) / max(float(np.linalg.norm(b - a)), 1e-9) * SITE_RADIUS
    gap = math.inf
    for name, o in world.objects.items():
        cfg = objects[name]
        if name == ignore or o.held_by is not None or cfg.type in (ObjectType.ZONE, ObjectType.TRAY):
            continue
        if o.pos[2] + Shape.of(cfg).half_height < above:
            continue
        p = np.array(o.pos[:2])
        for off in offsets:
            s0, s1 = (palm_a + off)[:2], (b + off)[:2]
            seg = s1 - s0
            t = np.clip(np.dot(p - s0, seg) / max(float(np.dot(seg, seg)), 1e-12), 0.0, 1.0)
            gap = min(gap, float(np.linalg.norm(p - s0 - t * seg)) - Shape.of(cfg).radius)
    return gap
