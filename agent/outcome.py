"""Outcome: what a monitor reports about one skill call."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["success", "failure"]

# Failure reasons the monitors themselves emit (skills' judges add their own, e.g. not_grasped).
TIMEOUT = "timeout"
DROPPED = "dropped"
SPILL = "spill"
FELL = "fell"
UNSTABLE = "unstable"
TABLE_FORCE = "table_collision"
BLOCKED = "blocked"
POLICY_ERROR = "policy_error"  # a learned or remote policy could not answer (timeout, bad reply)


@dataclass(frozen=True)
class Outcome:
    call_id: str
    skill: str
    status: Status
    reason: str
    sim_time_s: float
    started_s: float
    args: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
