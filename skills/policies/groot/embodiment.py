"""Embodiment mappings (data, ``embodiments/*.yaml``): how an env's state, cameras and joint groups map
onto a GR00T server's state, video and action keys."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

HERE = Path(__file__).parent / "embodiments"


class ActionMap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: str = Field(description="the env joint group these values drive")
    rep: Literal["absolute", "relative"] = Field(
        "absolute", description="relative: offsets from the state sent with the request (the client adds it)"
    )


class GrootEmbodiment(BaseModel):
    """One robot's mapping. ``state`` slices index the env's ``Observation.state``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    robot: str
    embodiment_tag: str = "new_embodiment"
    data_config: str | None = None
    fps: Annotated[float, Field(gt=0)]
    image_size: tuple[int, int] = (224, 224)
    language_key: str = "annotation.human.task_description"
    cameras: dict[str, str]
    state: dict[str, tuple[int, int]]
    action: dict[str, ActionMap]

    @model_validator(mode="after")
    def _check(self) -> GrootEmbodiment:
        for k, (a, b) in self.state.items():
            if not 0 <= a < b:
                raise ValueError(f"state '{k}': [start, end) must have 0 <= start < end, got [{a}, {b}]")
        for k, m in self.action.items():
            if m.rep == "relative" and k not in self.state:
                raise ValueError(f"action '{k}' is relative, so state needs a '{k}' entry to add it to")
        return self

    def state_slice(self, key: str) -> slice:
        a, b = self.state[key]
        return slice(a, b)

    def action_dims(self, group_sizes: dict[str, int]) -> dict[str, int]:
        """Wire action key -> its width, from the env's joint groups."""
        missing = sorted({m.group for m in self.action.values()} - set(group_sizes))
        if missing:
            raise ValueError(
                f"embodiment '{self.name}' drives groups the env does not have: {', '.join(missing)} "
                f"(env groups: {', '.join(sorted(group_sizes))})"
            )
        return {k: group_sizes[m.group] for k, m in self.action.items()}

    def states(self, state: np.ndarray) -> dict[str, np.ndarray]:
        return {k: np.asarray(state[self.state_slice(k)]) for k in self.state}


@cache
def load_embodiment(name_or_path: str) -> GrootEmbodiment:
    """A shipped mapping by name (``g1``, ``so100``) or a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = HERE / f"{name_or_path}.yaml"
        if not path.exists():
            known = ", ".join(sorted(p.stem for p in HERE.glob("*.yaml")))
            raise ValueError(f"unknown GR00T embodiment '{name_or_path}'; shipped: {known}")
    try:
        raw = yaml.safe_load(path.read_text())
        return GrootEmbodiment.model_validate(raw)
    except FileNotFoundError:
        raise ValueError(f"no embodiment file {path}") from None
    except ValidationError as e:
        from envs.validation import format_validation_error

        raise ValueError(f"{path}: bad embodiment mapping\n{format_validation_error(e)}") from None


def embodiment_for_robot(robot: str) -> GrootEmbodiment:
    """The shipped mapping whose ``robot`` is the env's."""
    for p in sorted(HERE.glob("*.yaml")):
        emb = load_embodiment(p.stem)
        if emb.robot == robot:
            return emb
    raise ValueError(f"no GR00T embodiment mapping for robot '{robot}'; add one to {HERE}")
