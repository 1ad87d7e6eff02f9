"""The task file schema and its loader: a bad file fails naming the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from envs.predicates import check_params
from envs.scene_schema import ObjectConfig, SceneConfig, SceneError, load_scene
from envs.validation import format_validation_error, read_yaml_mapping

TASKS_DIR = Path(__file__).parent

Bound = Annotated[float, Field(ge=0)]


class TaskError(ValueError):
    """A task file that cannot be used, or an unknown task; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpertCall(_Strict):
    """One skill call of the expert; calls run one after the other, each after the previous succeeded."""

    skill: str
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("skill")
    @classmethod
    def _known(cls, v: str) -> str:
        from skills.registry import all_skills

        names = sorted(s.name for s in all_skills())
        if v not in names:
            raise ValueError(f"unknown skill '{v}'; skills: {', '.join(names)}")
        return v


class SuccessCheck(_Strict):
    """A predicate of envs/predicates.py that must hold on the world at the end of the episode."""

    predicate: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _fits(self) -> SuccessCheck:
        try:
            check_params(self.predicate, self.params)
        except KeyError as e:
            raise ValueError(e.args[0]) from None
        return self


class Distractors(_Strict):
    """Objects added to the scene; each episode puts a seeded number of them on the table (pose ranges in
    the object's station frame, as in scene files), the rest stand aside on the floor out of view."""

    count: tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]] = (0, 0)
    objects: dict[str, ObjectConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _enough(self) -> Distractors:
        lo, hi = self.count
        if lo > hi:
            raise ValueError(f"count range [{lo}, {hi}] has min > max")
        if hi > len(self.objects):
            raise ValueError(f"count up to {hi} but only {len(self.objects)} distractor objects are given")
        return self


class Variation(_Strict):
    """Bounds of the per-episode perturbations (each sampled uniformly within ± the bound, seeded).

    The defaults were measured to keep the block task's expert succeeding (docs/datasets.md).
    """

    speed: tuple[float, float] = Field((0.85, 1.15), description="arm speed factor range")
    grasp_offset_m: tuple[Bound, Bound, Bound] = Field((0.004, 0.004, 0.003), description="± x, y, z")
    approach_offset_m: Bound = Field(0.02, description="± pre-grasp clearance")
    via_offset_m: tuple[Bound, Bound, Bound] = Field((0.03, 0.03, 0.03), description="± x, y, z")
    camera_pos_mm: Bound = Field(5.0, description="± per axis, every robot camera")
    camera_deg: Bound = Field(2.0, description="± per axis (roll, pitch, yaw), every robot camera")
    lighting: Bound = Field(0.0, description="± fraction of each light's brightness (an option: 0 = off)")
    colour: Bound = Field(0.0, description="± per RGB channel of the task's objects (an option: 0 = off)")
    distractors: Distractors = Field(default_factory=Distractors)

    @field_validator("speed")
    @classmethod
    def _speed(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0.5 <= v[0] <= v[1] <= 1.5:
            raise ValueError(f"speed range must satisfy 0.5 <= min <= max <= 1.5, got {list(v)}")
        return v


class TaskSpec(_Strict):
    """A manipulation task: what is said, what the expert does, where, how it varies, how it is judged."""

    name: str
    instruction: str = Field(min_length=3)
    paraphrases: list[str] = Field(default_factory=list)
    description: str = ""
    scene: str = "g1_lab"
    # A demonstration stands at one station: recorded on the holonomic base unless the task (or
    # ``tandem collect --locomotion``) says otherwise, where the manipulation policy's datasets and its
    # experiments were measured. The scene's default (the walker in g1_lab) is for whole requests.
    locomotion: str = "holonomic"
    expert: str | None = Field(
        None, description="a scripted whole-task expert (skills/controllers/experts.py) instead of calls"
    )
    calls: list[ExpertCall] = Field(default_factory=list, validate_default=True)
    success: list[SuccessCheck] = Field(min_length=1)
    variation: Variation = Field(default_factory=Variation)
    max_sim_s: Annotated[float, Field(gt=0)] = 60.0

    @field_validator("locomotion")
    @classmethod
    def _known_locomotion(cls, v: str) -> str:
        from envs.locomotion.config import parse_locomotion

        parse_locomotion(v)
        return v

    @field_validator("expert")
    @classmethod
    def _known_expert(cls, v: str | None) -> str | None:
        if v is not None:
            from skills.controllers.experts import get_expert

            try:
                get_expert(v)
            except KeyError as e:
                raise ValueError(e.args[0]) from None
        return v

    @field_validator("calls")
    @classmethod
    def _calls_or_expert(cls, v: list[ExpertCall], info) -> list[ExpertCall]:
        if "expert" not in info.data:  # the expert is invalid: that is the error to report
            return v
        expert = info.data["expert"]
        if expert is None and not v:
            raise ValueError("the expert needs at least one skill call (or name a scripted `expert`)")
        if expert is not None and v:
            raise ValueError(f"give skill calls or expert '{expert}', not both")
        return v

    @property
    def phrasings(self) -> list[str]:
        return [self.instruction, *self.paraphrases]

    def scene_config(self) -> SceneConfig:
        """The task's scene with its distractor objects added."""
        base = load_scene(self.scene)
        extra = self.variation.distractors.objects
        if not extra:
            return base
        return SceneConfig.model_validate({**base.model_dump(), "objects": {**base.objects, **extra}})

    @property
    def scene_key(self) -> str:
        """Tasks with the same key share one built env."""
        extra = sorted(self.variation.distractors.objects)
        return f"{self.scene}@{self.locomotion}" + (f"+{','.join(extra)}" if extra else "")


def _check_names(spec: TaskSpec, path: Path) -> None:
    """Skill arguments and predicate parameters must name what the scene has."""
    from skills.registry import get_skill
    from skills.spec import SceneNames

    if spec.expert is not None:
        _check_expert(spec, path)
        return
    try:
        scene = spec.scene_config()
    except (SceneError, ValidationError) as e:
        raise TaskError(f"{path}: invalid task\n  scene / variation.distractors: {e}") from None
    names = SceneNames(
        stations=frozenset(scene.stations),
        objects={n: o.type.value for n, o in scene.objects.items()},
        containers=frozenset(scene.containers),
    )
    for i, call in enumerate(spec.calls):
        try:
            get_skill(call.skill).args.model_validate(call.args, context={"scene": names})
        except ValidationError as e:
            detail = format_validation_error(e, indent="").replace("\n", "; ")
            raise TaskError(f"{path}: invalid task\n  calls.{i}.args: {detail}") from None
    _check_success_objects(spec, path, set(scene.objects))


def _check_expert(spec: TaskSpec, path: Path) -> None:
    """A scripted expert runs on its own scenes and knows their objects."""
    from skills.controllers.experts import get_expert

    expert = get_expert(spec.expert)
    if spec.scene not in expert.scenes:
        raise TaskError(
            f"{path}: invalid task\n  scene: expert '{spec.expert}' runs on {', '.join(expert.scenes)}, "
            f"not '{spec.scene}'"
        )
    _check_success_objects(spec, path, set(expert.objects), f" ({', '.join(expert.objects)})")


def _check_success_objects(spec: TaskSpec, path: Path, objects: set[str], known: str = "") -> None:
    """Every object the success predicates name is one of ``objects``."""
    for i, check in enumerate(spec.success):
        for key in ("object", "zone", "container"):
            v = check.params.get(key)
            if v is not None and v not in objects:
                raise TaskError(
                    f"{path}: invalid task\n  success.{i}.params.{key}: '{v}' is not an object of scene "
                    f"'{spec.scene}'{known}"
                )


def task_path(name: str | Path) -> Path:
    p = Path(name)
    if p.suffix in {".yaml", ".yml"} or p.exists():
        return p
    shipped = TASKS_DIR / f"{name}.yaml"
    if shipped.exists():
        return shipped
    raise TaskError(
        f"unknown task '{name}': not a task file, and not a shipped task ({', '.join(task_names())})"
    )


def load_task(name: str | Path, locomotion: str | None = None) -> TaskSpec:
    """A shipped task by name (``block_to_zone``) or a task YAML, on ``locomotion`` if given (else its
    own); TaskError names the file and field."""
    path = task_path(name)
    raw = read_yaml_mapping(path, TaskError, "task")
    raw.setdefault("name", path.stem)
    if locomotion is not None:
        raw["locomotion"] = locomotion
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as e:
        raise TaskError(f"{path}: invalid task\n{format_validation_error(e)}") from None
    _check_names(spec, path)
    return spec


def task_names() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.yaml"))


def all_tasks() -> list[TaskSpec]:
    return [load_task(n) for n in task_names()]
