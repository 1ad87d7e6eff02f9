"""Eval suites: YAML files of cases, their schema (pydantic) and a loader whose errors name the file,
the case and the field.

    name: lab_basics
    defaults: {scene: g1_lab, planner: offline, seeds: [0], time_budget_s: 240}
    cases:
      - id: pour_peroxide
        goal: pour 50 ml of hydrogen peroxide into the flask
        seeds: [3, 4]                     # overrides defaults.seeds
        scene: other_scene.yaml           # a shipped scene name or a file next to the suite
        faults: ["drop:hand=right,during=walk_to,after=1"]   # agent/faults.py syntax, or mappings
        subgoals:                         # ordered, for chain scoring (CALVIN-style)
          - object_held: {object: hydrogen_peroxide_bottle}
          - container_received: {container: flask, min_ml: 45, max_ml: 55}
        success:                          # all must hold on the final world state
          - container_received: {container: flask, min_ml: 45, max_ml: 55}
      - id: cake
        goal: bake a cake
        expect: declined                  # success = the planner declines (read from the run's events):
                                          # not_understood, question, refused, or declined = any of them

Predicates come from the registry in envs/predicates.py: a name or its parameters that do not fit fail
at load, before any episode runs. New predicates are registered there, never here or in the runner.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from envs.validation import read_yaml_mapping

SUITES_DIR = Path(__file__).resolve().parent / "suites"
PLANNERS = ("offline", "llm")


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file, the case and the field."""


def _check(raw: Any) -> tuple[str, dict[str, Any]]:
    """``{predicate: {param: value}}`` (as in recipe goals) -> (name, params), checked by the registry."""
    from envs.predicates import check_params, get_predicate

    if isinstance(raw, str):
        raw = {raw: {}}
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ValueError(f"a check is one mapping {{predicate: {{param: value}}}}, got {raw!r}")
    ((name, params),) = raw.items()
    params = params or {}
    if not isinstance(params, dict):
        raise ValueError(f"predicate '{name}': params must be a mapping, got {params!r}")
    try:
        get_predicate(name)
    except KeyError as e:
        raise ValueError(e.args[0]) from None
    check_params(name, params)
    return str(name), dict(params)


Check = Annotated[tuple[str, dict[str, Any]], BeforeValidator(_check)]


def _fault(raw: Any) -> str:
    """A fault in the CLI syntax (validated by agent.faults.parse_fault); mappings become that syntax."""
    from agent.faults import FaultError, parse_fault

    try:
        parse_fault(raw)
    except FaultError as e:
        raise ValueError(str(e)) from None
    if isinstance(raw, dict):
        rest = ",".join(f"{k}={v}" for k, v in raw.items() if k != "kind")
        return f"{raw['kind']}:{rest}" if rest else str(raw["kind"])
    return str(raw).strip()


FaultText = Annotated[str, BeforeValidator(_fault)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Strict):
    scene: str = "g1_lab"
    planner: str = "offline"
    prompt: str | None = None
    model: str | None = None
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    time_budget_s: Annotated[float, Field(gt=0)] = 300.0

    @field_validator("planner")
    @classmethod
    def _planner(cls, v: str) -> str:
        if v not in PLANNERS:
            raise ValueError(f"unknown planner '{v}'; planners: {', '.join(PLANNERS)}")
        return v


class Case(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)]
    goal: Annotated[str, Field(min_length=1)]
    scene: str | None = None
    seeds: list[int] | None = Field(default=None, min_length=1)
    faults: list[FaultText] = Field(default_factory=list)
    subgoals: list[Check] = Field(default_factory=list)
    success: list[Check] = Field(default_factory=list)
    # The planner must not plan: not_understood, question, refused (the LLM's GIVE UP), or any of them.
    expect: Literal["not_understood", "question", "refused", "declined"] | None = None
    time_budget_s: Annotated[float, Field(gt=0)] | None = None
    tags: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("goal")
    @classmethod
    def _goal(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the goal is empty")
        return v.strip()

    @model_validator(mode="after")
    def _judged(self) -> Case:
        if not self.success and self.expect is None:
            raise ValueError("a case needs 'success' predicates or 'expect' (e.g. declined, not_understood)")
        if self.success and self.expect is not None:
            raise ValueError("give either 'success' predicates or 'expect', not both")
        return self


class Suite(_Strict):
    name: str
    description: str = ""
    defaults: Defaults = Field(default_factory=Defaults)
    cases: list[Case] = Field(min_length=1)
    path: str = ""

    def case(self, case_id: str) -> Case:
        for c in self.cases:
            if c.id == case_id:
                return c
        raise KeyError(f"suite '{self.name}' has no case '{case_id}'")


@dataclass(frozen=True)
class Episode:
    """One cell of the matrix: planner x prompt x model x seed x case. ``key`` identifies it in results."""

    suite: str
    case_id: str
    planner: str
    prompt: str  # "" when none
    model: str  # "" when none
    seed: int
    scene: str
    goal: str
    faults: tuple[str, ...]
    time_budget_s: float
    case: dict[str, Any]  # the case as data (subgoals, success, expect) for metrics in the worker
    manipulation: str = "scripted"  # who runs pick/place (one backend per results directory)

    @property
    def key(self) -> tuple[str, str, str, str, str, int]:
        return (self.suite, self.case_id, self.planner, self.prompt, self.model, self.seed)

    @property
    def variant(self) -> str:
        """planner[/prompt][/model]: what a report compares side by side."""
        parts = [self.planner]
        if self.prompt:
            parts.append(Path(self.prompt).stem)
        if self.model:
            parts.append(self.model)
        if self.manipulation != "scripted":
            parts.append(self.manipulation)
        return "/".join(parts)

    @property
    def run_id(self) -> str:
        """A stable run folder name, the same for a rerun of the same cell."""
        named = self.key if self.manipulation == "scripted" else (*self.key, self.manipulation)
        digest = hashlib.sha1(json.dumps(named).encode()).hexdigest()[:8]
        return f"{self.suite}.{self.case_id}.s{self.seed}.{self.planner}.{digest}"

    def planner_options(self) -> dict[str, Any]:
        """RunConfig.planner_options: the LLM planner reads prompt, model and fallback; offline, none."""
        if self.planner == "offline":
            return {}
        # No silent fallback to the recipe planner: an endpoint failure is the LLM planner's failure here.
        opts: dict[str, Any] = {"fallback": "none"}
        if self.prompt:
            opts["prompt"] = self.prompt
        if self.model:
            opts["model"] = self.model
        return opts

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "faults": list(self.faults)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Episode:
        return cls(**{**d, "faults": tuple(d["faults"])})


def _where(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """``cases.2.faults.0`` -> ``case 'pour' (cases[2]): faults.0``."""
    if len(loc) >= 2 and loc[0] == "cases" and isinstance(loc[1], int):
        cases = raw.get("cases") or []
        case_id = cases[loc[1]].get("id") if loc[1] < len(cases) and isinstance(cases[loc[1]], dict) else None
        head = f"case '{case_id}' (cases[{loc[1]}])" if case_id else f"cases[{loc[1]}]"
        rest = ".".join(str(p) for p in loc[2:] if not str(p).startswith("function-"))
        return f"{head}: {rest}" if rest else head
    return ".".join(str(p) for p in loc) or "(top level)"


def resolve_suite_path(suite: str | Path) -> Path:
    """A path to a YAML file, or the name of a shipped suite (eval/suites/NAME.yaml)."""
    path = Path(suite)
    if path.exists() or path.suffix in (".yaml", ".yml"):
        return path
    shipped = SUITES_DIR / f"{suite}.yaml"
    if shipped.exists():
        return shipped
    names = ", ".join(sorted(p.stem for p in SUITES_DIR.glob("*.yaml")))
    raise SuiteError(f"unknown suite '{suite}': not a file, and not a shipped suite ({names})")


def _resolve_scene(scene: str, base: Path) -> str:
    """A shipped scene name, or a YAML path (relative to the suite file) made absolute and validated."""
    from envs.scene_schema import SceneError, load_scene, resolve_scene_path

    candidate = Path(scene)
    if candidate.suffix in (".yaml", ".yml") and not candidate.is_absolute():
        candidate = base / candidate
        scene = str(candidate.resolve())
    try:
        resolve_scene_path(scene)
        load_scene(scene)
    except SceneError as e:
        raise ValueError(str(e)) from None
    return scene


def load_suite(suite: str | Path) -> Suite:
    """Read and validate a suite; raise SuiteError naming the file, the case and the field."""
    path = resolve_suite_path(suite)
    raw = {"name": path.stem, **read_yaml_mapping(path, SuiteError, "suite")}
    try:
        parsed = Suite.model_validate({**raw, "path": str(path.resolve())})
    except ValidationError as e:
        lines = []
        for err in e.errors():
            msg = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            shown = (
                ""
                if isinstance(got, dict | list) or got is None or err["type"] == "missing"
                else f" (got {got!r})"
            )
            lines.append(f"  {_where(tuple(err['loc']), raw)}: {msg}{shown}")
        raise SuiteError(f"{path}: invalid suite\n" + "\n".join(lines)) from None
    ids = [c.id for c in parsed.cases]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SuiteError(f"{path}: invalid suite\n  cases: duplicate case id(s) {dup}")
    # Scenes: shipped names or files next to the suite, validated now so a typo fails before any episode.
    fixed = []
    for i, case in enumerate(parsed.cases):
        scene = case.scene or parsed.defaults.scene
        try:
            resolved = _resolve_scene(scene, path.parent)
        except ValueError as e:
            field = "scene" if case.scene else "defaults.scene"
            raise SuiteError(
                f"{path}: invalid suite\n  case '{case.id}' (cases[{i}]): {field}: {e}"
            ) from None
        fixed.append(case.model_copy(update={"scene": resolved}))
    return parsed.model_copy(update={"cases": fixed})


def expand(
    suites: list[Suite],
    planners: list[str] | None = None,
    prompts: list[str] | None = None,
    models: list[str] | None = None,
    seeds: list[int] | None = None,
    cases: list[str] | None = None,
    manipulation: str = "scripted",
) -> list[Episode]:
    """The matrix planner x prompt x model x seed x case, in a stable order. Flags override suite defaults."""
    out: list[Episode] = []
    for suite in suites:
        d = suite.defaults
        for planner in planners or [d.planner]:
            if planner not in PLANNERS:
                raise SuiteError(f"unknown planner '{planner}'; planners: {', '.join(PLANNERS)}")
            for prompt in prompts or [d.prompt or ""]:
                if prompt and not Path(prompt).is_file():
                    raise SuiteError(f"no prompt file {prompt}")
                prompt = str(Path(prompt).resolve()) if prompt else ""
                for model in models or [d.model or ""]:
                    for case in suite.cases:
                        if cases and case.id not in cases:
                            continue
                        for seed in seeds or case.seeds or d.seeds:
                            out.append(
                                Episode(
                                    suite=suite.name,
                                    case_id=case.id,
                                    planner=planner,
                                    prompt=prompt,
                                    model=model,
                                    seed=int(seed),
                                    scene=case.scene or d.scene,
                                    goal=case.goal,
                                    faults=tuple(case.faults),
                                    time_budget_s=case.time_budget_s or d.time_budget_s,
                                    case={
                                        "subgoals": [list(c) for c in case.subgoals],
                                        "success": [list(c) for c in case.success],
                                        "expect": case.expect,
                                    },
                                    manipulation=manipulation,
                                )
                            )
    if cases:
        known = {c.id for s in suites for c in s.cases}
        unknown = sorted(set(cases) - known)
        if unknown:
            raise SuiteError(f"unknown case(s) {unknown}; cases: {', '.join(sorted(known))}")
    return out
