"""The plan wire shape, the same for every planner (offline recipes, any LLM):

    {"reason": str, "steps": [{"id": str, "skill": str, "args": {...}, "after": [str, ...]}]}

Skill arguments are named as in the skill registry (``tandem skills --json``).
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


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", description="why this plan reaches the goal, in a sentence or two")
    steps: list[Step]

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)
