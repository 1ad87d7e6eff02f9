"""Thresholds of the monitors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class MonitorConfig:
    """Args:
    drop_after_s: a believed-held object out of the hand this long is dropped (debounces contact flicker).
    spill_ml: more spill than this during one call fails it.
    fall_height_m: pelvis below this height means the robot fell.
    fall_tilt_deg: pelvis tilted more than this means the robot fell.
    table_force_n: a robot-table contact pushing harder than this fails the call.
    stall_s: a base skill whose base has not moved for this long is blocked.
    obstacle_force_n: a base skill whose robot pushes on the obstacle harder than this is blocked (on legs
        the stepping body never stands still: it walked on into the obstacle and fell).
    """

    drop_after_s: float = 0.1
    spill_ml: float = 10.0
    fall_height_m: float = 0.55
    fall_tilt_deg: float = 30.0
    table_force_n: float = 400.0
    stall_s: float = 1.0
    obstacle_force_n: float = 20.0

    def __post_init__(self) -> None:
        for name in (
            "drop_after_s",
            "spill_ml",
            "fall_height_m",
            "table_force_n",
            "stall_s",
            "obstacle_force_n",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"MonitorConfig.{name} must be > 0, got {getattr(self, name)}")
