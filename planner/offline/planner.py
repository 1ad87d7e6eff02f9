"""OfflinePlanner: the embedded default System 2, with no network and no API key.

``understand`` turns a request into an Intent (a recipe and its parameters) or a Reply; ``plan`` expands
the recipe from the world as it is now into a Plan; ``goal_met`` reads the recipe's goal from physics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from envs import predicates
from envs.base import WorldState
from envs.scene_schema import load_scene
from planner.backend import PlanningError
from planner.meaning import contrary
from planner.offline import mentions
from planner.offline.deps import link
from planner.offline.htn import expand
from planner.offline.lang import ExpansionError, Scope, evaluate
from planner.offline.matcher import Matcher
from planner.offline.params import extract, names_of, problems
from planner.offline.recipes import Library, ParamType, Recipe, load_library
from planner.schema import GoalCheck, Plan
from skills.spec import SceneNames
from skills.symbolic import SymbolicState

# Measured with all-MiniLM-L6-v2 on the shipped recipes: 29 paraphrases of them scored 0.58-1.0, 17
# unrelated requests 0.15-0.45 ("bake a cake" 0.20, "paint the wall red" 0.45).
THRESHOLD = 0.5
# The lead the best recipe needs over the runner-up unless the request's parameters decide between them.
# Measured (docs/planning.md): correct matches led by 0.12-0.67; the closer ones ("add 10 ml of dish soap
# to the flask", 0.075 over the toothpaste) are decided by the parameters they fill.
MARGIN = 0.1
# Below this a match is weak: chat asks the person to confirm before the robot moves. The weakest correct
# paraphrases measured 0.53-0.58 ("do the experiment", "could you put the red block into the yellow area").
CONFIDENT = 0.6


class Intent(BaseModel):
    """A request understood: which recipe, with which parameters (JSON-serializable, checkpointed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    recipe: str
    params: dict[str, str | float]
    score: float
    lead: float = 1.0  # over the best other recipe; negative when the parameters decided a near-tie
    request: str = ""

    @property
    def weak(self) -> bool:
        """A match to confirm with a person before the robot moves."""
        return self.score < CONFIDENT


@dataclass(frozen=True)
class Reply:
    """No plan: what to tell the person, and what the planner knows how to do."""

    message: str
    known: list[str] = field(default_factory=list)
    kind: Literal["not_understood", "question", "declined"] = "not_understood"


class OfflinePlanner:
    def __init__(
        self, library: Library | None = None, scene: str = "g1_lab", threshold: float = THRESHOLD
    ) -> None:
        self.library = library or load_library()
        self.scene = scene
        self.threshold = threshold

    @cached_property
    def matcher(self) -> Matcher:
        return Matcher(self.library)

    @cached_property
    def _frames(self) -> dict[str, tuple[float, float, float]]:
        """Each station's working pose (x, y, yaw in radians), to put objects in the robot's frame there."""
        return {
            n: (s.robot_pose[0], s.robot_pose[1], math.radians(s.robot_pose[2]))
            for n, s in load_scene(self.scene).stations.items()
        }

    def understand(self, text: str, world: WorldState) -> Intent | Reply:
        known = self.library.titles()
        # Meaning first: a negated or contrary request is never matched to the task it resembles.
        against = contrary(text)
        if against is not None:
            return Reply(against.message, known, "question" if against.question else "declined")
        ranked = self.matcher.rank(mentions.strip_params(text))
        if ranked[0][1] < self.threshold:
            return Reply(f"I don't know how to do that. I can: {', '.join(known)}.", known)
        close = [
            (n, s, extract(self.library.recipes[n], text, world))
            for n, s in ranked
            if s >= ranked[0][1] - MARGIN
        ]
        # A near-tie goes to the recipe the request fills best ("add 10 ml of soap to the flask" names the
        # source, target and volume of a pour, one amount of the toothpaste); a runner-up the request gives
        # no parameter to never wins, or a recipe with all defaults would catch every near miss.
        close = [c for i, c in enumerate(close) if i == 0 or c[2].given]

        def fill(c: tuple[str, float, Any]) -> tuple[bool, int]:
            return not c[2].missing, len(c[2].given)

        best = max(fill(c) for c in close)
        tied = [c for c in close if fill(c) == best]
        if len(tied) > 1:  # neither the scores nor the parameters tell them apart: ask, never guess
            titles = " or to ".join(self.library.recipes[n].title for n, *_ in tied)
            return Reply(f"Did you mean to {titles}? Say it with the objects involved.", known, "question")
        name, score, got = tied[0]
        recipe = self.library.recipes[name]
        scene = SceneNames.from_world(world)
        if got.missing:
            needed = " and ".join(_ask(recipe, p, scene) for p in got.missing)
            return Reply(f"To {recipe.title} I need to know {needed}.", known, "question")
        wrong = problems(recipe, got.params, scene)
        if wrong:
            return Reply(f"To {recipe.title}: {'; '.join(wrong)}.", known, "question")
        lead = score - max((s for n, s in ranked if n != name), default=0.0)
        return Intent(recipe=name, params=got.params, score=score, lead=round(lead, 4), request=text)

    def plan(self, intent: Intent, world: WorldState, avoid: Mapping[str, set[str]] | None = None) -> Plan:
        """The recipe expanded from ``world``; ``avoid`` maps objects to hands that cannot reach them."""
        recipe = self._recipe(intent, world)
        met, details = self.goal_met(intent, world)
        if met:
            return Plan(reason=f"{recipe.title}: already done ({'; '.join(details)})", steps=[])
        state = SymbolicState.from_world(world)
        try:
            calls = expand(
                self.library, intent.recipe, intent.params, state, self._lateral(world), avoid or {}
            )
        except ExpansionError as e:
            raise PlanningError(f"cannot plan '{recipe.title}' from here: {e}") from None
        steps = link(calls, {*world.objects, *world.stations})
        checks = self.checks(intent)
        goal = "; ".join(f"{c}({_args(a)})" for c, a in checks)
        return Plan(
            reason=f"{recipe.title}, expanded from the current state until {goal}",
            steps=steps,
            goal=[GoalCheck(predicate=c, params=a) for c, a in checks],
        )

    def goal_met(self, intent: Intent, world: WorldState) -> tuple[bool, list[str]]:
        results = [
            (name, args, *predicates.evaluate(world, name, args)) for name, args in self.checks(intent)
        ]
        return all(ok for *_, ok, _ in results), [
            f"{name}({_args(args)}): {'met' if ok else 'not met'}, {detail}"
            for name, args, ok, detail in results
        ]

    def checks(self, intent: Intent, subgoals: bool = False) -> list[tuple[str, dict[str, Any]]]:
        """The recipe's goal (or its ordered subgoals) as predicate calls for envs/predicates.py."""
        recipe = self.library.recipes[intent.recipe]
        scope = Scope(intent.params)
        return [
            (c.predicate, {k: evaluate(v, scope) for k, v in c.params.items()})
            for c in (recipe.subgoals if subgoals else recipe.goal)
        ]

    def _recipe(self, intent: Intent, world: WorldState) -> Recipe:
        recipe = self.library.recipes.get(intent.recipe)
        if recipe is None:
            raise PlanningError(
                f"unknown recipe '{intent.recipe}'; recipes: {', '.join(self.library.recipes)}"
            )
        wrong = problems(recipe, dict(intent.params), SceneNames.from_world(world))
        if wrong:
            raise PlanningError(f"'{intent.recipe}': {'; '.join(wrong)}")
        return recipe

    def _lateral(self, world: WorldState) -> dict[str, float]:
        """Each object's y in its station's frame (> 0: on the robot's left when it stands there)."""
        out = {}
        for name, obj in world.objects.items():
            frame = self._frames.get(obj.station or "")
            if frame is not None:
                x0, y0, yaw = frame
                out[name] = -math.sin(yaw) * (obj.pos[0] - x0) + math.cos(yaw) * (obj.pos[1] - y0)
        return out


def _ask(recipe: Recipe, param: str, scene: SceneNames) -> str:
    spec = recipe.params[param]
    if spec.type == ParamType.VOLUME:
        return f"how many ml ({param})"
    return f"the {param} (a {spec.type.value}: {', '.join(names_of(spec.type, scene))})"


def _args(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items())
