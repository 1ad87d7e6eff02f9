"""The Env protocol every simulator backend implements, and the types that cross it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

# A whole-body command, written per joint group: {"right_arm": 7 joint targets, "base": (vx, vy, yaw_rate)}.
# Groups left out keep their previous targets, so several executors can each write their own part.
Command = Mapping[str, ArrayLike]


@dataclass(frozen=True)
class JointGroup:
    """A named set of joints: their names and their indices into the 43-D state and the actuators."""

    name: str
    joints: tuple[str, ...]
    state_index: np.ndarray  # into Observation.state (GR00T's 43-D G1 layout)
    ctrl_index: np.ndarray  # into the simulator's actuators

    @property
    def size(self) -> int:
        return len(self.joints)


@dataclass(frozen=True)
class Embodiment:
    """The joint groups executors can claim. ``base`` is a velocity interface (vx, vy, yaw_rate)."""

    robot: str
    groups: dict[str, JointGroup]
    aliases: dict[str, tuple[str, ...]]  # e.g. legs -> (left_leg, right_leg)
    base_mode: str  # "holonomic" (base model, legs in stance) or "floating" (free-standing)
    state_dim: int
    cameras: tuple[str, ...] = ()  # the robot's own cameras (ego view, wrist cameras) that env.render knows
    # Each gripper as RobotState.holding names it -> the MuJoCo site at its grasp point (trajectories).
    effectors: dict[str, str] = field(default_factory=dict)

    def expand(self, name: str) -> tuple[str, ...]:
        """Concrete groups behind a group name or an alias (``legs`` -> left_leg, right_leg)."""
        if name in self.aliases:
            return self.aliases[name]
        if name in self.groups or name == "base":
            return (name,)
        known = sorted([*self.groups, *self.aliases, "base"])
        raise KeyError(f"unknown joint group '{name}'; known groups: {', '.join(known)}")


@dataclass(frozen=True)
class Observation:
    """What a policy sees each control tick; images come from ``Env.render`` at the policy's rate."""

    time_s: float
    state: np.ndarray  # (43,) joint positions, GR00T G1 layout
    velocity: np.ndarray  # (43,) joint velocities
    base_pose: np.ndarray  # (3,) x, y, yaw in the world
    # (7,) pelvis position and quaternion (w, x, y, z) in the world when the base floats (a free-standing
    # G1 stands a little lower and tilted); None when the base model holds it at the stand height, upright.
    pelvis: np.ndarray | None = None


@dataclass
class ObjectState:
    name: str
    type: str
    pos: list[float]
    quat: list[float]
    tilt_deg: float  # off upright; for a cube, off lying flat on any face
    station: str | None  # the station whose table it is over, if any
    held_by: str | None  # "left" / "right" when that hand grips it (from contact forces)
    in_zone: str | None = None
    speed: float = 0.0  # m/s of its centre
    resting_on: str | None = None  # the station (its table), tray or object it stands on (from contacts)
    mass_kg: float = 0.0  # as simulated: a container's includes its liquid


@dataclass
class ContainerState:
    name: str
    contents_ml: dict[str, float]
    total_ml: float
    capacity_ml: float
    poured_out_ml: float
    received_ml: float
    foam_ml: float


@dataclass
class RobotState:
    base_pose: list[float]  # x, y, yaw (rad)
    station: str | None  # the station whose working pose the base is at, within tolerance
    pelvis_height: float
    pelvis_tilt_deg: float
    holding: dict[str, str | None]  # hand -> object
    joints: dict[str, list[float]] = field(default_factory=dict)  # joint group -> positions (rad)


@dataclass
class ReactionState:
    reaction: str
    container: str
    started_s: float
    progress: float


@dataclass
class WorldState:
    """Everything monitors, planners and eval predicates read about the world, in plain types."""

    time_s: float
    robot: RobotState
    objects: dict[str, ObjectState]
    containers: dict[str, ContainerState]
    spills_ml: dict[str, dict[str, float]]  # location (table, tray, floor) -> liquid -> ml
    spilled_ml: float
    foam_overflow_ml: dict[str, float]
    reactions: list[ReactionState]
    stations: list[str]
    unstable: str | None = None  # why the simulation is no longer trustworthy (NaN, blow-up)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Env(Protocol):
    """A simulator the agent can drive. The MuJoCo lab is the embedded default; Isaac Lab plugs in here."""

    embodiment: Embodiment
    control_dt: float

    def reset(self, seed: int | None = None, scene: str | None = None) -> Observation: ...

    def step(self, command: Command) -> Observation: ...

    def world_state(self) -> WorldState: ...

    def render(self, camera: str = "ego_view", width: int = 224, height: int = 224) -> np.ndarray: ...

    def render_later(self, cameras: Sequence[str], width: int = 224, height: int = 224) -> Future:
        """Frames ``{camera: image}`` of the state now, rendered off the calling (control) thread."""
        ...

    def close(self) -> None: ...
