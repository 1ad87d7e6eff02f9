"""Dataset layouts per embodiment: what `tandem collect` writes for a robot (state/action joint groups,
cameras, robot_type, whether a base velocity is recorded). The one place that maps an env to its layout;
format.py turns a layout into info.json features and GR00T's meta/modality.json.

A layout's groups are the env embodiment's joint groups in state order (tests check they agree); the keys
of ``LAYOUTS`` are env registry names (envs/registry.py), so a task's scene picks its layout without
building the env.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

from envs.registry import env_for_scene
from envs.robots.g1 import g1_constants as g1
from envs.so100.env import ARM_JOINTS, GRIPPER_JOINTS


@dataclass(frozen=True)
class DatasetLayout:
    robot_type: str  # info.json robot_type
    groups: dict[str, tuple[str, ...]]  # state/action group -> joint names, in state order
    cameras: tuple[str, ...]  # the robot's cameras a dataset may record (the default: all)
    base_velocity: bool  # an ``action.base_velocity`` column (vx, vy, yaw_rate)

    @property
    def joint_names(self) -> list[str]:
        return [j for joints in self.groups.values() for j in joints]

    @property
    def dim(self) -> int:
        return len(self.joint_names)

    @property
    def ranges(self) -> dict[str, tuple[int, int]]:
        """[start, end) of each group in the state and action vectors."""
        ends = [0, *accumulate(len(j) for j in self.groups.values())]
        return {g: (a, b) for g, a, b in zip(self.groups, ends, ends[1:], strict=False)}


LAYOUTS: dict[str, DatasetLayout] = {
    "g1_lab": DatasetLayout(
        robot_type="unitree_g1",
        groups=dict(g1.GROUP_JOINTS),
        cameras=(g1.EGO_CAMERA, *g1.WRIST_CAMERAS.values()),
        base_velocity=True,
    ),
    "so100": DatasetLayout(
        robot_type="so100",
        # GR00T's so100 configs: single_arm (shoulder_pan .. wrist_roll) + gripper, menagerie's joint names
        groups={"single_arm": ARM_JOINTS, "gripper": GRIPPER_JOINTS},
        cameras=("front", "wrist"),
        base_velocity=False,
    ),
}


def layout_for_scene(scene: str) -> DatasetLayout:
    """The layout of the env a scene is built by."""
    return LAYOUTS[env_for_scene(scene)]


def layout_for_env(env) -> DatasetLayout:
    """The layout of a built env: the one whose groups are the env embodiment's, in state order."""
    groups = {name: g.size for name, g in env.embodiment.groups.items()}
    for layout in LAYOUTS.values():
        if {name: len(joints) for name, joints in layout.groups.items()} == groups:
            return layout
    raise ValueError(f"no dataset layout has the joint groups of robot '{env.embodiment.robot}': {groups}")


def layout_for_robot_type(robot_type: str | None, where: object = "info.json") -> DatasetLayout:
    """The layout an existing dataset was written with (its info.json robot_type)."""
    for layout in LAYOUTS.values():
        if layout.robot_type == robot_type:
            return layout
    known = ", ".join(sorted(v.robot_type for v in LAYOUTS.values()))
    raise ValueError(f"{where}: robot_type {robot_type!r} is not one `tandem collect` writes ({known})")
