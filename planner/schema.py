"""The plan wire shape, the same for every planner (offline recipes, any LLM):

    {"reason": str,
     "steps": [{"id": str, "skill": str, "args": {...}, "after": [str, ...]}],
     "goal": [{"predicate": str, "params": {...}}]}

Skill arguments are named as in the skill registry (``tandem skills --json``); goal predicates are those of
envs/predicates.py, checked on the world when the plan has run: a run succeeds only when they hold.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

StepId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")]


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: StepId
    skill: str = Field(description="a registered skill name")
    args: dict[str, Any] = Field(
        default_factory=dict, description="the skill's arguments, named as in its schema"
    )
    after: list[StepId] = Field(default_factory=list, description="ids of steps that must succeed first")


class GoalCheck(BaseModel):
    """One world-state predicate that holds when the request is done (envs/predicates.py)."""

    model_config = ConfigDict(extra="forbid")
    predicate: str = Field(description="a registered predicate name")
    params: dict[str, Any] = Field(default_factory=dict, description="its parameters")


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", description="why this plan reaches the goal, in a sentence or two")
    steps: list[Step]
    goal: list[GoalCheck] = Field(
        default_factory=list, description="predicates that hold on the world once the request is done"
    )

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)
