"""Outcome: what a monitor reports about one skill call."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from agent.records import plain

# Failure reasons the monitors themselves emit, from the one vocabulary (skills/reasons.py).
from skills.reasons import BLOCKED, DROPPED, FELL, POLICY_ERROR, SPILL, TIMEOUT, UNREACHABLE, UNSTABLE
from skills.reasons import TABLE_COLLISION as TABLE_FORCE

Status = Literal["success", "failure"]

__all__ = [
    "BLOCKED",
    "DROPPED",
    "FELL",
    "POLICY_ERROR",
    "SPILL",
    "TABLE_FORCE",
    "TIMEOUT",
    "UNREACHABLE",
    "UNSTABLE",
    "Outcome",
]


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
        # Plain Python numbers and lists: the checkpointer's msgpack refuses numpy (a table force given as
        # np.float64 ended a run).
        return json.loads(json.dumps(asdict(self), default=plain))
