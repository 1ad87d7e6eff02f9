"""The liquid catalogue and reaction rules, read from rules.yaml."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

RULES_FILE = Path(__file__).parent / "rules.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Liquid(_Strict):
    label: str
    rgba: tuple[float, float, float, float]
    density_g_ml: Annotated[float, Field(gt=0)] = 1.0


class Reaction(_Strict):
    description: str = ""
    requires: list[dict[str, Annotated[float, Field(gt=0)]]] = Field(min_length=1)
    consumes: str
    foam_ml_per_ml: Annotated[float, Field(ge=0)]
    duration_s: Annotated[float, Field(gt=0)]
    foam_rgba: tuple[float, float, float, float] = (0.98, 0.95, 0.85, 1.0)

    def satisfied_by(self, contents: dict[str, float]) -> bool:
        """Every group has at least one liquid at or above its minimum."""
        return all(
            any(contents.get(liq, 0.0) >= need for liq, need in group.items()) for group in self.requires
        )


class ChemistryRules(_Strict):
    liquids: dict[str, Liquid]
    reactions: dict[str, Reaction] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_liquids(self) -> ChemistryRules:
        for name, r in self.reactions.items():
            named = {liq for group in r.requires for liq in group} | {r.consumes}
            unknown = named - set(self.liquids)
            if unknown:
                raise ValueError(f"reactions.{name} names unknown liquids {sorted(unknown)}")
        return self


@cache
def load_rules(path: Path = RULES_FILE) -> ChemistryRules:
    return ChemistryRules.model_validate(yaml.safe_load(path.read_text()))
