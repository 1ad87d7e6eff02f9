"""The locomotion choice (``holonomic`` | ``walker[:PATH]``) and a walker's YAML description."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from envs.validation import format_validation_error, read_yaml_mapping

POLICY_DIR = Path(__file__).parent / "policies"
DEFAULT_WALKER = POLICY_DIR / "playground_g1_joystick.yaml"
ENV_POLICY = "TANDEM_WALKER_POLICY"  # a walker .onnx or .yaml used when `walker` names no path

OBSERVATION_TERMS = (
    "imu_linvel",  # 3: pelvis linear velocity in the IMU frame (velocimeter)
    "imu_gyro",  # 3: angular velocity in the IMU frame
    "gravity",  # 3: gravity direction in the IMU frame
    "command",  # the command vector (velocity: 3; a latent verb: its size)
    "joint_pos",  # n: joint positions minus the default pose, policy order
    "joint_vel",  # n: joint velocities
    "last_action",  # n: the previous raw network output
    "gait_phase",  # 4: cos, sin of two phases half a cycle apart
)


class PolicyError(RuntimeError):
    """A walker policy or its description cannot be used; the message names the file and what was expected."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImuSite(_Strict):
    name: str
    body: str
    pos: tuple[float, float, float]


class CommandSpace(_Strict):
    kind: Literal["velocity", "latent"] = "velocity"
    low: tuple[float, ...]
    high: tuple[float, ...]
    bias: tuple[float, ...] | None = None  # added to each command (a policy's drift at zero)
    # Added once more per arm someone else owns (a ``hold`` carrying): the policy sees that arm at rest in
    # its default pose while the hand, and what it holds, stay out front.
    owned_arm_bias: tuple[float, ...] | None = None

    @model_validator(mode="after")
    def _shape(self) -> CommandSpace:
        if len(self.low) != len(self.high):
            raise ValueError(f"low has {len(self.low)} entries, high {len(self.high)}: they must match")
        for name in ("bias", "owned_arm_bias"):
            v = getattr(self, name)
            if v is not None and len(v) != len(self.low):
                raise ValueError(f"{name} has {len(v)} entries, the command {len(self.low)}")
        if self.kind == "velocity" and len(self.low) != 3:
            raise ValueError(f"a velocity command is (vx, vy, yaw_rate): 3 entries, got {len(self.low)}")
        return self


class GainRule(_Strict):
    match: str  # a substring of the joint name; "" matches every joint
    kp: Annotated[float, Field(ge=0)]
    damping: Annotated[float, Field(ge=0)] = 0.0


class RouteDriving(_Strict):
    """How the walk skills drive this walker through waypoints (skills/controllers/leg_motion.py). Each
    number answers a trait of the policy (its lag, its drift, which way it turns well), so another walker
    brings its own; the defaults are the Playground G1 policy's, measured (docs/locomotion.md)."""

    long_leg_m: Annotated[float, Field(gt=0)] = 1.0  # longer legs are walked facing along them
    turn_start_deg: Annotated[float, Field(gt=0)] = 8.0  # a heading error above this turns in place ...
    turn_end_deg: Annotated[float, Field(gt=0)] = 2.5  # ... until it is below this, at rest
    turn_rate: Annotated[float, Field(gt=0)] = 0.5  # rad/s, the most a left turn asks
    right_rate: Annotated[float, Field(gt=0)] = 0.3  # rad/s, the most a right turn asks
    right_turn_max_deg: Annotated[float, Field(ge=0, le=180)] = 20.0  # larger right turns go left round
    yaw_gain: Annotated[float, Field(gt=0)] = 1.5  # rad/s per rad of heading error
    yaw_lag_s: Annotated[float, Field(ge=0)] = 0.5  # heading error taken this far ahead at the turn rate
    walk_speed: Annotated[float, Field(gt=0)] = 0.35  # m/s forward on a long leg
    approach_speed: Annotated[float, Field(gt=0)] = 0.15  # m/s forward on a short leg
    back_speed: Annotated[float, Field(gt=0)] = 0.3  # m/s backward
    side_speed: Annotated[float, Field(gt=0)] = 0.15  # m/s sideways
    pos_gain: Annotated[float, Field(gt=0)] = 0.8  # m/s per m of position error
    pos_lag_s: Annotated[float, Field(ge=0)] = 1.2  # position error taken this far ahead at the velocity
    near_m: Annotated[float, Field(gt=0)] = 0.3  # within this of a waypoint: integral action, hold
    pass_m: Annotated[float, Field(gt=0)] = 0.15  # an intermediate waypoint is passed this close
    hold_speed: Annotated[float, Field(gt=0)] = 0.12  # m/s, the most a correction asks on the goal
    hold_i: Annotated[float, Field(ge=0)] = 0.5  # per s, integral action near a waypoint
    hold_i_max: Annotated[float, Field(ge=0)] = 0.3  # m s
    max_accel: Annotated[float, Field(gt=0)] = 1.0  # m/s^2 and rad/s^2 on the command
    # Running away forward faster than this (m/s; None: never) before the last leg, the command follows the
    # run at ``runaway_keep`` of its speed and eases off at ``runaway_decel`` (m/s^2), position control held.
    # Braking with a load ahead, a zero or backward command while it runs made the run worse until it
    # fell; it recovers when asked for the speed it already has (docs/locomotion.md, "Late round").
    runaway_speed: Annotated[float, Field(gt=0)] | None = 0.5
    runaway_keep: Annotated[float, Field(gt=0, le=1)] = 0.8
    runaway_decel: Annotated[float, Field(gt=0)] = 0.3
    stop_pos_m: Annotated[float, Field(gt=0)] = 0.025  # asked to stop within this of the goal ...
    stop_yaw_deg: Annotated[float, Field(gt=0)] = 2.5  # ... and this ...
    stop_speed: Annotated[float, Field(gt=0)] = 0.05  # ... with its smoothed drift under this (m/s)
    clearance_m: Annotated[float, Field(gt=0)] = 0.7  # routes keep this far from the tables
    # Standing up from a stop moves the pelvis forward 2-7 cm; a step back aims this much further (m) and a
    # walk to a station stops this much short of its pose. Without it 40 replayed last step backs settled
    # 0.37-0.39 m back, at the edge of 0.4 +- 0.03: 2 walked again from stance, lunged and struck the
    # bench, 2 ended short; with 0.02 all 40 landed 0.37-0.41.
    stand_up_forward_m: Annotated[float, Field(ge=0)] = 0.02


class StanceBalance(_Strict):
    """Ankle-strategy balance while the legs are stiff and frozen (envs/locomotion/balance.py)."""

    gain: Annotated[float, Field(ge=0)] = 1.0  # lean per unit capture-point offset; 0 turns it off
    # Where it holds the centre of mass, ahead (+) of the soles' middle: the stand pose puts it 3.3 cm
    # behind; held at the middle, the lean moved the pelvis 3-4 cm toward the table as it stood up.
    setpoint_m: float = -0.02
    # The most ankle offset it writes (rad); a sudden 0.05 step toppled it.
    max_pitch_rad: Annotated[float, Field(ge=0)] = 0.12
    max_roll_rad: Annotated[float, Field(ge=0)] = 0.08
    # Standing up, a capture point this far behind (ahead of) the set point is past the heels (toes), where
    # no lean catches it: the policy takes the legs back, steps, and the stop starts over. Stops measured
    # on open floor reached 0.05 behind; those that toppled carrying both bottles, 0.07 and beyond.
    step_behind_m: Annotated[float, Field(gt=0)] = 0.06
    step_ahead_m: Annotated[float, Field(gt=0)] = 0.09
    modes: list[Literal["stance", "starting", "standing"]] = ["stance", "standing"]


class LocomotionPolicyConfig(_Strict):
    """One walker: the ONNX file, how to build its observation, its command space, rate and gains."""

    name: str
    file: str
    sha256: str | None = None
    url: str | None = None
    input: str = "obs"
    output: str = "actions"
    control_dt: Annotated[float, Field(gt=0)] = 0.02
    action_scale: float = 0.5
    gait_hz: Annotated[float, Field(ge=0)] = 1.5
    imu_site: ImuSite
    command: CommandSpace
    observation: list[Literal[OBSERVATION_TERMS]]  # type: ignore[valid-type]
    joints: dict[str, float]  # policy order -> default pose (rad)
    # Joints held this far (rad) from where the policy believes them: its targets get the offset added and
    # its observation has it taken off. A robot heavier than the one it was trained on balances its
    # difference this way; the observation and the action still speak of the trained default pose.
    pose_offset: dict[str, float] = {}
    drives: list[str]
    gains: list[GainRule]
    frictionloss: Annotated[float, Field(ge=0)] = 0.0
    # How far behind a station's working pose it stops: stepping, its knees and hands reach 0.28-0.30 m
    # ahead of the pelvis, further than in stance, and would strike the table at the working pose.
    standoff_m: Annotated[float, Field(ge=0)] = 0.0
    # Before it takes over: bend from the lab's stand pose into its default pose (stiff) in start_s, then
    # hold start_hold_s while the body comes to rest (else its first steps lurch forward).
    start_s: Annotated[float, Field(gt=0)] = 0.5
    start_hold_s: Annotated[float, Field(ge=0)] = 0.3
    route: RouteDriving = RouteDriving()
    balance: StanceBalance = StanceBalance()

    @model_validator(mode="after")
    def _offsets_name_joints(self) -> LocomotionPolicyConfig:
        unknown = sorted(set(self.pose_offset) - set(self.joints))
        if unknown:
            raise ValueError(f"pose_offset names joints the policy does not drive: {unknown}")
        return self

    @property
    def obs_size(self) -> int:
        n = len(self.joints)
        sizes = {"command": len(self.command.low), "joint_pos": n, "joint_vel": n, "last_action": n}
        return sum(sizes.get(t, 4 if t == "gait_phase" else 3) for t in self.observation)

    def gain_of(self, joint: str) -> GainRule:
        for rule in self.gains:
            if rule.match in joint:
                return rule
        raise PolicyError(f"walker '{self.name}': no gains rule matches joint '{joint}' (add match: \"\")")


def load_policy_config(path: str | Path) -> LocomotionPolicyConfig:
    path = Path(path)
    raw = read_yaml_mapping(path, PolicyError, "walker policy")
    try:
        return LocomotionPolicyConfig.model_validate(raw)
    except ValidationError as e:
        raise PolicyError(
            f"{path}: invalid walker policy description\n{format_validation_error(e)}"
        ) from None


@dataclass(frozen=True)
class Locomotion:
    """What moves the base: the holonomic base model, or a walker (its YAML and an optional ONNX path)."""

    kind: Literal["holonomic", "walker"]
    config: Path | None = None  # the walker's YAML
    policy: Path | None = None  # an explicit .onnx; else resolved from the YAML (root, cache, download)

    def __str__(self) -> str:
        if self.kind == "holonomic":
            return "holonomic"
        extra = self.policy or (self.config if self.config != DEFAULT_WALKER else None)
        return f"walker:{extra}" if extra else "walker"


def parse_locomotion(text: str) -> Locomotion:
    """``holonomic``, ``walker``, ``walker:FILE.onnx`` (the default walker's description, this file) or
    ``walker:FILE.yaml`` (another walker). Plain ``walker`` reads $TANDEM_WALKER_POLICY when set."""
    import os

    kind, _, path = text.strip().partition(":")
    if kind == "holonomic" and not path:
        return Locomotion("holonomic")
    if kind != "walker":
        raise ValueError(f"locomotion must be 'holonomic' or 'walker[:PATH]', got {text!r}")
    path = path or os.environ.get(ENV_POLICY, "")
    if not path:
        return Locomotion("walker", DEFAULT_WALKER)
    p = Path(path).expanduser()
    if p.suffix in (".yaml", ".yml"):
        return Locomotion("walker", p)
    if p.suffix == ".onnx":
        return Locomotion("walker", DEFAULT_WALKER, p)
    raise ValueError(f"walker path must be an .onnx policy or a .yaml description, got {path!r}")
