"""The LoRA-versus-full experiment's configuration: a YAML file validated here, errors naming the field.

    tandem experiment lora-vs-full --config eval/experiments/lora_vs_full.yaml

``cells()`` expands it into the training runs (method x demo count x training seed, plus the LoRA rank
sweep), each with a stable id that names its folder, so a rerun finds what already finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from envs.validation import format_validation_error, read_yaml_mapping

HERE = Path(__file__).resolve().parent
DEFAULT = HERE / "lora_vs_full.yaml"
SMOKE = HERE / "lora_vs_full_smoke.yaml"
Pos = Annotated[int, Field(gt=0)]


class ConfigError(ValueError):
    """An experiment config that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Seeds(_Strict):
    """``count`` consecutive scene seeds from ``start``."""

    start: Annotated[int, Field(ge=0)]
    count: Pos

    def list(self) -> list[int]:
        return list(range(self.start, self.start + self.count))


class Collect(_Strict):
    episodes_per_task: Pos  # pretraining demonstrations per task
    image_size: Annotated[int, Field(ge=16)] = 224  # ego camera frames (square); the models take this size
    seeds_start: Annotated[int, Field(ge=0)] = 0
    workers: Pos = 1


class Pretrain(_Strict):
    tasks: list[str] = Field(min_length=1)  # the multi-task set; must not contain the held-out task
    steps: Pos
    batch: Pos = 64
    lr: Annotated[float, Field(gt=0)] = 3e-4


class HeldOut(_Strict):
    task: str  # the reference task ("move the red block to the yellow zone")
    object: str  # the object it moves: start sensitivity regresses the grasp on its start position
    hand: Literal["left", "right"] = "right"
    demo_pool: Pos  # demonstrations collected; a cell with N demos trains on the first N
    val_episodes: Pos = 10  # further demonstrations (the seeds after the pool): the validation loss
    demo_seeds_start: Annotated[int, Field(ge=0)] = 0


class Method(_Strict):
    """One fine-tuning regime: ``tandem train --method M --steps N ...``."""

    method: Literal["full", "lora", "head", "scratch"]
    steps: Pos
    lr: Annotated[float, Field(gt=0)] = 1e-4
    batch: Pos = 32
    lora_rank: Pos = 16
    lora_alpha: Pos = 32
    label: str = ""  # shown in the report, e.g. "LoRA r16 short (story's 8k regime)"


class RankSweep(_Strict):
    method: str  # a key of ``methods`` whose method is lora
    demos: Pos
    ranks: list[Pos] = Field(min_length=1)  # alpha = 2 x rank, as r16/a32
    seeds: list[Annotated[int, Field(ge=0)]] = Field(default_factory=lambda: [0], min_length=1)


class Eval(_Strict):
    seeds: Seeds  # held-out scene seeds, the same for every cell
    workers: Pos = 1
    time_budget_s: Annotated[float, Field(gt=0)] = 300.0
    # Where each eval worker runs its policy: "cuda" on a GPU machine (16 workers share the GPU), "cpu",
    # or "auto" (cuda when there is one).
    policy_device: Literal["auto", "cpu", "cuda"] = "auto"
    # Evaluate each cell as soon as it is trained, while the next ones train (the GPU trains, the eval
    # workers roll out): fine-tuning and evaluation become one stage whose wall time is the longer of the two.
    overlap: bool = False


class PromptProbe(_Strict):
    """Prompt sensitivity: the held-out task's start (seed) with other tasks' instructions."""

    tasks: list[str] = Field(min_length=1)
    seeds: Pos  # the first N eval seeds


class Diagnostics(_Strict):
    unique_threshold_rad: Annotated[float, Field(gt=0)] = 0.05
    significance: Annotated[float, Field(gt=0, lt=1)] = 0.05


class ExperimentConfig(_Strict):
    name: str = "lora_vs_full"
    description: str = ""
    device: str = "auto"
    model: dict[str, Any] = Field(default_factory=dict)  # VLAConfig overrides (a tiny model for smoke)
    # Sentence vectors made where the text encoder is (python -m skills.policies.vla.language): training
    # and evaluation on a machine without it (the GPU machine) read them from here.
    instruction_vectors: str | None = None
    train_workers: Pos = 1  # fine-tuning cells trained at once (small models leave a GPU mostly idle)
    collect: Collect
    pretrain: Pretrain
    held_out: HeldOut
    methods: dict[str, Method] = Field(min_length=1)
    demos: list[Pos] = Field(min_length=1)
    train_seeds: dict[int, list[Annotated[int, Field(ge=0)]]] = Field(min_length=1)  # demos -> seeds
    rank_sweep: RankSweep | None = None
    eval: Eval
    prompt: PromptProbe
    diagnostics: Diagnostics = Field(default_factory=Diagnostics)
    story: dict[str, dict[str, str]] = Field(default_factory=dict)  # the story's table, quoted in the report

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        if self.held_out.task in self.pretrain.tasks:
            raise ValueError(
                f"held_out.task '{self.held_out.task}' is in pretrain.tasks: it must be held out"
            )
        if max(self.demos) > self.held_out.demo_pool:
            raise ValueError(
                f"demos go up to {max(self.demos)} but held_out.demo_pool is {self.held_out.demo_pool}"
            )
        for n in self.train_seeds:
            if n not in self.demos:
                raise ValueError(f"train_seeds has demo count {n}, which is not in demos {self.demos}")
        if self.rank_sweep:
            m = self.methods.get(self.rank_sweep.method)
            if m is None or m.method != "lora":
                raise ValueError(
                    f"rank_sweep.method '{self.rank_sweep.method}' is not a lora entry of methods"
                )
            if self.rank_sweep.demos not in self.demos:
                raise ValueError(f"rank_sweep.demos {self.rank_sweep.demos} is not in demos {self.demos}")
        if self.prompt.seeds > self.eval.seeds.count:
            raise ValueError("prompt.seeds must not exceed eval.seeds.count (it reuses the first eval seeds)")
        if self.held_out.task in self.prompt.tasks:
            raise ValueError("prompt.tasks are other tasks' instructions; the held-out task is the reference")
        unseen = sorted(set(self.prompt.tasks) - set(self.pretrain.tasks))
        if unseen:
            raise ValueError(f"prompt.tasks {unseen} are not in pretrain.tasks: the policy never heard them")
        demo_end = self.held_out.demo_seeds_start + self.held_out.demo_pool + self.held_out.val_episodes
        ev = self.eval.seeds
        if ev.start < demo_end and self.held_out.demo_seeds_start < ev.start + ev.count:
            raise ValueError(
                f"eval.seeds {ev.start}..{ev.start + ev.count - 1} overlap the demonstration seeds"
            )
        return self

    def seeds_for(self, demos: int) -> list[int]:
        return self.train_seeds.get(demos) or [0]

    def cells(self) -> list[Cell]:
        """Every fine-tuning run: methods x demo counts x training seeds, then the rank sweep."""
        out = [
            Cell(f"{key}.d{n}.s{seed}", key, m, n, seed)
            for n in self.demos
            for key, m in self.methods.items()
            for seed in self.seeds_for(n)
        ]
        if self.rank_sweep:
            rs = self.rank_sweep
            base = self.methods[rs.method]
            for r in rs.ranks:
                if r == base.lora_rank:
                    continue  # the base cell already is this rank
                tag, new_tag = f"r{base.lora_rank}/a{base.lora_alpha}", f"r{r}/a{2 * r}"
                label = base.label.replace(tag, new_tag) if tag in base.label else f"{base.label}, {new_tag}"
                m = base.model_copy(update={"lora_rank": r, "lora_alpha": 2 * r, "label": label})
                key = f"{rs.method}_r{r}"
                out += [Cell(f"{key}.d{rs.demos}.s{seed}", key, m, rs.demos, seed) for seed in rs.seeds]
        return out


@dataclass(frozen=True)
class Cell:
    """One fine-tuning run and the policy it yields."""

    id: str
    key: str  # the methods entry (or rank-sweep variant) it comes from
    method: Method
    demos: int
    seed: int


def load_config(path: str | Path | None = None, smoke: bool = False) -> ExperimentConfig:
    """Read and validate a config (default: the shipped one, or the smoke one)."""
    path = Path(path) if path else (SMOKE if smoke else DEFAULT)
    raw = read_yaml_mapping(path, ConfigError, "experiment config")
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"{path}: invalid experiment config\n{format_validation_error(e)}") from None
