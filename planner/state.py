"""The graph's state: everything a run needs to resume after a kill (checkpointed to SQLite)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

Status = Literal[
    "running",
    "success",
    "completed_unchecked",  # every step succeeded, but the plan named no goal to check on the world
    "failed",
    "not_understood",
    "declined",  # a negated or contrary request (planner/meaning.py): nothing was executed
    "invalid_plan",
    "needs_user",
    "rejected",
    "aborted",
]


class RunState(TypedDict, total=False):
    goal: str
    task: dict[str, Any] | None  # what the backend understood (backend data)
    summary: str
    plan: dict[str, Any] | None  # the current Plan, as JSON
    plan_version: int
    issues: list[str]  # validation problems of the current plan
    done: list[str]  # ids of steps of the current plan that succeeded
    outcomes: Annotated[list[dict[str, Any]], operator.add]  # every outcome, all plan versions
    wave: list[dict[str, Any]]  # the outcomes of the last execute
    attempts: dict[str, int]  # step id -> times it failed
    retries: int
    replans: int
    feedback: dict[str, Any] | None  # why the next plan is asked for
    decision: str
    status: Status
    message: str
    snapshot: dict[str, Any] | None  # the simulator after the last wave, to resume from
    approval: bool  # ask a person to approve each plan before it runs
    confirm: str | None  # the backend's question when it understood the request only weakly
    confirm_weak: bool  # a person is there to answer it (chat): ask before the first plan runs
