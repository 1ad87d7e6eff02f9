"""SkillSpec: everything the planner, the validator and the runtime need to know about one skill."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

from envs.base import WorldState
from skills.executor import Executor
from skills.symbolic import SymbolicState

Hand = Literal["left", "right"]


class SceneNames(BaseModel):
    """The names a skill argument may refer to in the current scene (the validation context)."""

    model_config = ConfigDict(frozen=True)
    stations: frozenset[str]
    objects: dict[str, str]  # name -> type
    containers: frozenset[str]

    @classmethod
    def from_world(cls, world: WorldState) -> SceneNames:
        return cls(
            stations=frozenset(world.stations),
            objects={n: o.type for n, o in world.objects.items()},
            containers=frozenset(world.containers),
        )

    def names_of(self, kind: str) -> list[str]:
        """The scene's names for an argument kind (objects, graspable, containers, stations, locations)."""
        types = {"graspable": GRASPABLE, "containers": CONTAINERS}.get(kind)
        if kind == "stations":
            return sorted(self.stations)
        if kind == "locations":
            return sorted([*self.stations, *(n for n, t in self.objects.items() if t in PLACES)])
        return sorted(n for n, t in self.objects.items() if types is None or t in types)

    def check_object(self, name: str, what: str = "object", types: set[str] | None = None) -> str:
        if name not in self.objects:
            raise ValueError(f"unknown {what} '{name}'; the scene has: {', '.join(sorted(self.objects))}")
        if types is not None and self.objects[name] not in types:
            raise ValueError(f"'{name}' is a {self.objects[name]}, not a {' or '.join(sorted(types))}")
        return name


def _names(info: ValidationInfo) -> SceneNames | None:
    return (info.context or {}).get("scene")


GRASPABLE = frozenset({"block", "bottle", "flask", "graduated_cylinder", "cup"})
CONTAINERS = frozenset({"bottle", "flask", "graduated_cylinder", "cup"})
PLACES = frozenset({"zone", "tray"})


def _object_of(types: frozenset[str] | None, what: str):
    def check(v: str, info: ValidationInfo) -> str:
        names = _names(info)
        return v if names is None else names.check_object(v, what, set(types) if types else None)

    return AfterValidator(check)


def _station(v: str, info: ValidationInfo) -> str:
    names = _names(info)
    if names is not None and v not in names.stations:
        raise ValueError(f"unknown station '{v}'; stations: {', '.join(sorted(names.stations))}")
    return v


def _location(v: str, info: ValidationInfo) -> str:
    names = _names(info)
    if names is None or v in names.stations or names.objects.get(v) in PLACES:
        return v
    places = sorted([*names.stations, *(n for n, t in names.objects.items() if t in PLACES)])
    raise ValueError(
        f"unknown location '{v}'; a location is a station, a zone or a tray: {', '.join(places)}"
    )


def _kind(kind: str) -> Any:
    # Marks the field in the JSON schema so the registry can list the scene's names as an enum.
    return Field(json_schema_extra={"x-scene-names": kind})


# Argument types: names checked against the scene passed as validation context {"scene": SceneNames}.
ObjectName = Annotated[str, _object_of(None, "object"), _kind("objects")]
GraspableName = Annotated[str, _object_of(GRASPABLE, "object"), _kind("graspable")]
ContainerName = Annotated[str, _object_of(CONTAINERS, "container"), _kind("containers")]
StationName = Annotated[str, AfterValidator(_station), _kind("stations")]
LocationName = Annotated[str, AfterValidator(_location), _kind("locations")]


class SkillArgs(BaseModel):
    """Base of every skill's arguments: strict (unknown fields are errors) and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Status = Literal["success", "failure"]


@dataclass(frozen=True)
class Verdict:
    """A decisive judgement about a skill call, read from the world state."""

    status: Status
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class CallContext:
    """What a skill's success predicate sees: its args, the world when it started and now."""

    args: SkillArgs
    start: WorldState
    world: WorldState
    executor_finished: bool
    elapsed_s: float


@dataclass(frozen=True)
class SkillSpec:
    """One skill.

    Args:
        name: the name planners call it by.
        description: one paragraph written for an LLM: what it does, when to use it, what it needs.
        args: the pydantic model of its arguments.
        resources: joint groups a call claims, from its arguments.
        preconditions: symbolic checks; each returns a list of problems (empty when it may run).
        effects: updates a symbolic state as if the call succeeded.
        timeout_s: default time budget of one call, in simulated seconds.
        executor: builds the executor for one call: ``executor(env, args)``.
        judge: reads success or failure from the world state; None while undecided.
        holds: the (hand, object) a call keeps gripped throughout, for the drop monitor.
        background: a call that keeps going until preempted or the plan ends (``hold``).
        reachable: feasibility before motion (skills/reach.py): ``reachable(workspace, state, args)``
            lists why the call cannot reach its target from the station the robot will stand at.
    """

    name: str
    description: str
    args: type[SkillArgs]
    resources: Callable[[Any], tuple[str, ...]]
    preconditions: Callable[[SymbolicState, Any], list[str]]
    effects: Callable[[SymbolicState, Any], None]
    timeout_s: float
    executor: Callable[[Any, Any], Executor]
    judge: Callable[[CallContext], Verdict | None]
    holds: Callable[[Any], tuple[str, str] | None] = lambda args: None
    background: bool = False
    reachable: Callable[[Any, SymbolicState, Any], list[str]] | None = None

    def parse_args(self, raw: dict[str, Any], scene: SceneNames | None = None) -> SkillArgs:
        """Validate raw arguments (from a plan, the CLI or an LLM) against the schema and the scene."""
        return self.args.model_validate(raw, context={"scene": scene})
