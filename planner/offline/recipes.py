"""Recipe files: the pydantic schema and the loader that turns a bad file into a readable error.

A file holds ``tasks`` (compound tasks shared by recipes) and/or ``recipes`` (what a request can name).
Both decompose into ``do`` items: a skill call, a task call, or a nested block, each guarded by ``when``
(all must hold) and ``unless`` (none may hold) conditions on the symbolic state; see planner/offline/lang.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from envs.chemistry.rules import load_rules
from envs.predicates import check_params
from envs.validation import format_validation_error, read_yaml_mapping
from planner.offline.lang import Condition, Value, parse_condition, parse_value, reads_state, refs
from skills.registry import get_skill

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"
MAX_ML = 1000.0  # the pour skill's largest volume

ParsedValue = Annotated[Any, BeforeValidator(parse_value)]
ParsedCondition = Annotated[Any, BeforeValidator(parse_condition)]


class RecipeError(ValueError):
    """A recipe file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(_Strict):
    """One step of a decomposition: exactly one of ``skill``, ``task`` or ``do``."""

    skill: str | None = None
    task: str | None = None
    do: list[Item] | None = None
    args: dict[str, ParsedValue] = Field(default_factory=dict)
    when: list[ParsedCondition] = Field(default_factory=list)
    unless: list[ParsedCondition] = Field(default_factory=list)

    @field_validator("args", mode="before")
    @classmethod
    def _names(cls, raw: Any) -> Any:
        bad = [k for k in raw if not str(k).isidentifier()] if isinstance(raw, dict) else []
        if bad:
            # YAML splits {a: f($x, $y)} at the comma: quote the call or write the mapping as a block.
            raise ValueError(f"{bad[0]!r} is not an argument name; quote a function call that has commas")
        return raw

    @model_validator(mode="after")
    def _one_kind(self) -> Item:
        kinds = [k for k in ("skill", "task", "do") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"an item has exactly one of skill, task or do; got {kinds or 'none'}")
        if self.do is not None and self.args:
            raise ValueError("a 'do' block takes no args")
        if self.skill is not None:
            try:
                fields = get_skill(self.skill).args.model_fields
            except KeyError as e:
                raise ValueError(e.args[0]) from None
            unknown = set(self.args) - set(fields)
            missing = {n for n, f in fields.items() if f.is_required()} - set(self.args)
            if unknown or missing:
                raise ValueError(
                    f"skill '{self.skill}' takes args {', '.join(fields)}"
                    + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else "")
                    + (f"; missing: {', '.join(sorted(missing))}" if missing else "")
                )
        return self


class Task(_Strict):
    description: str = ""
    params: dict[str, str | float | None] = Field(
        default_factory=dict, description="parameter -> default; null means the caller must give it"
    )
    do: list[Item]


class ParamType(StrEnum):
    HAND = "hand"  # left, right, or auto (by reach)
    VOLUME = "volume"  # ml
    GRASPABLE = "graspable"
    CONTAINER = "container"
    ZONE = "zone"
    STATION = "station"


class RecipeParam(_Strict):
    type: ParamType
    default: str | float | None = Field(default=None, description="none: the request must name it")
    refers_to: str | None = Field(default=None, description="a volume's object: '80 ml of peroxide'")
    cue: list[str] = Field(default_factory=list, description="words that introduce it: 'into the flask'")

    @model_validator(mode="after")
    def _default_fits(self) -> RecipeParam:
        if self.default is None:
            return self
        if self.type == ParamType.HAND and self.default not in ("left", "right", "auto"):
            raise ValueError(f"default of a hand is left, right or auto, got {self.default!r}")
        if self.type == ParamType.VOLUME and (
            isinstance(self.default, str) or not 0 < self.default <= MAX_ML
        ):
            raise ValueError(
                f"default of a volume is a number of ml in (0, {MAX_ML:.0f}], got {self.default!r}"
            )
        return self


def _parse_check(raw: Any) -> Any:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ValueError("a goal is a mapping with one key: a predicate from envs/predicates.py")
    ((name, params),) = raw.items()
    params = params or {}
    if not isinstance(params, dict):
        raise ValueError(f"predicate '{name}' takes a mapping of parameters")
    try:
        check_params(name, params)
    except KeyError as e:
        raise ValueError(e.args[0]) from None
    values = {k: parse_value(v) for k, v in params.items()}
    if any(reads_state(v) for v in values.values()):
        raise ValueError(f"predicate '{name}': goal values may use $params, low() and high() only")
    return Check(name, values)


@dataclass(frozen=True)
class Check:
    """One world-state predicate with its parameters (values still to be bound)."""

    predicate: str
    params: dict[str, Value]


ParsedCheck = Annotated[Any, BeforeValidator(_parse_check)]


class Recipe(_Strict):
    title: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    description: str = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)
    params: dict[str, RecipeParam] = Field(default_factory=dict)
    goal: list[ParsedCheck] = Field(min_length=1, description="world-state predicates that define success")
    subgoals: list[ParsedCheck] = Field(default_factory=list, description="reached in this order on the way")
    do: list[Item]

    def texts(self) -> list[str]:
        """What a request is matched against."""
        return [self.title, *self.aliases, self.description, *self.examples]


class RecipeFile(_Strict):
    tasks: dict[str, Task] = Field(default_factory=dict)
    recipes: dict[str, Recipe] = Field(default_factory=dict)


@dataclass(frozen=True)
class Library:
    tasks: dict[str, Task]
    recipes: dict[str, Recipe]

    def titles(self) -> list[str]:
        return [r.title for r in self.recipes.values()]


def load_library(folder: Path = RECIPES_DIR) -> Library:
    """Every ``*.yaml`` in ``folder``; raise RecipeError naming the file, the field and what was expected."""
    files: dict[Path, RecipeFile] = {}
    for path in sorted(folder.glob("*.yaml")):
        files[path] = _load_file(path)
    tasks: dict[str, Task] = {}
    recipes: dict[str, Recipe] = {}
    origin: dict[str, Path] = {}
    for path, f in files.items():
        for kind, found, into in (("tasks", f.tasks, tasks), ("recipes", f.recipes, recipes)):
            for name, value in found.items():
                if name in origin:
                    _fail(path, f"{kind}.{name}", f"the name is already defined in {origin[name]}")
                origin[name] = path
                into[name] = value  # type: ignore[assignment]
    for path, f in files.items():
        for where, problem in _reference_problems(f, tasks):
            _fail(path, where, problem)
    return Library(tasks, recipes)


def _load_file(path: Path) -> RecipeFile:
    raw = read_yaml_mapping(path, RecipeError, "recipe")
    try:
        return RecipeFile.model_validate(raw)
    except ValidationError as e:
        raise RecipeError(f"{path}: invalid recipe file\n{format_validation_error(e)}") from None


def _fail(path: Path, where: str, problem: str) -> None:
    raise RecipeError(f"{path}: invalid recipe file\n  {where}: {problem}")


def _reference_problems(f: RecipeFile, tasks: dict[str, Task]) -> Iterator[tuple[str, str]]:
    """What pydantic cannot see within one model: $params, task calls, liquids."""
    liquids = set(load_rules().liquids)
    for name, task in f.tasks.items():
        yield from _item_problems(task.do, set(task.params), tasks, liquids, f"tasks.{name}.do")
    for name, recipe in f.recipes.items():
        declared = set(recipe.params)
        for group in ("goal", "subgoals"):
            for i, check in enumerate(getattr(recipe, group)):
                for key, v in check.params.items():
                    for ref in refs(v) - declared:
                        yield (
                            f"recipes.{name}.{group}.{i}.{check.predicate}.{key}",
                            _undeclared(ref, declared),
                        )
        yield from _item_problems(recipe.do, declared, tasks, liquids, f"recipes.{name}.do")


def _undeclared(ref: str, declared: set[str]) -> str:
    return f"'${ref}' is not a parameter here; expected one of: {', '.join(sorted(declared)) or 'none'}"


def _item_problems(
    items: list[Item], declared: set[str], tasks: dict[str, Task], liquids: set[str], path: str
) -> Iterator[tuple[str, str]]:
    for i, item in enumerate(items):
        here = f"{path}.{i}"
        for key, v in item.args.items():
            for ref in refs(v) - declared:
                yield f"{here}.args.{key}", _undeclared(ref, declared)
        for group in ("when", "unless"):
            cond: Condition
            for j, cond in enumerate(getattr(item, group)):
                for key, v in cond.args.items():
                    for ref in refs(v) - declared:
                        yield f"{here}.{group}.{j}.{cond.name}.{key}", _undeclared(ref, declared)
                liquid = cond.args.get("liquid")
                if isinstance(liquid, str) and liquid not in liquids:
                    yield (
                        f"{here}.{group}.{j}.{cond.name}.liquid",
                        f"unknown liquid '{liquid}'; liquids: {', '.join(sorted(liquids))}",
                    )
        if item.task is not None:
            task = tasks.get(item.task)
            if task is None:
                yield f"{here}.task", f"unknown task '{item.task}'; tasks: {', '.join(sorted(tasks))}"
                continue
            unknown = set(item.args) - set(task.params)
            missing = {p for p, d in task.params.items() if d is None} - set(item.args)
            if unknown or missing:
                yield (
                    f"{here}.args",
                    (
                        f"task '{item.task}' takes {', '.join(task.params)}"
                        + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else "")
                        + (f"; missing: {', '.join(sorted(missing))}" if missing else "")
                    ),
                )
        if item.do is not None:
            yield from _item_problems(item.do, declared, tasks, liquids, f"{here}.do")
