"""Requests that must not be carried out as the task they resemble: negated or contrary ones.

Sentence embeddings score "do not prepare elephant toothpaste" 0.96 against the toothpaste recipe, so
meaning is checked before any matching, from the cue phrases in planner/cues.yaml (data, not code). Every
planner uses it: the offline planner declines or asks, the LLM planner's plans for such a request are
sent back for repair.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from envs.validation import format_validation_error, read_yaml_mapping

CUES_FILE = Path(__file__).resolve().parent / "cues.yaml"
GAP_WORDS = 6  # "..." in a phrase: up to this many words in between

CueKind = Literal["negation", "stop", "undo", "destroy", "remove"]


class CueError(ValueError):
    """A cue file that cannot be used; the message names the file and the field."""


class _Cue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: CueKind
    phrases: list[str] = Field(min_length=1)
    say: str = Field(min_length=1, description="why such a request is declined, for the person")
    question: str | None = Field(default=None, description="asked instead of declining: a safe reading")

    @field_validator("phrases")
    @classmethod
    def _words(cls, phrases: list[str]) -> list[str]:
        for p in phrases:
            if not _words(p) or _words(p)[0] == "...":
                raise ValueError(f"phrase {p!r}: expected words, optionally with '...' between them")
        return phrases


class _CueFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    benign: list[str] = Field(default_factory=list, description="phrases removed before looking for cues")
    cues: list[_Cue] = Field(min_length=1)


@dataclass(frozen=True)
class Contrary:
    """A request that must not be executed: which cue, why, and the question to ask, if any."""

    kind: CueKind
    cue: str  # the words of the request that carry it
    say: str
    question: str | None

    @property
    def message(self) -> str:
        head = f"I will not do this: {self.say} ('{self.cue}')."
        return f"{head} {self.question}" if self.question else head


def _words(phrase: str) -> list[str]:
    return re.findall(r"\.\.\.|[a-z0-9']+", phrase.lower().replace("’", "'"))


def _pattern(phrase: str) -> re.Pattern[str]:
    parts = []
    for w in _words(phrase):
        parts.append(rf"(?:\s+\S+){{0,{GAP_WORDS}}}?" if w == "..." else rf"\s+{re.escape(w)}")
    body = "".join(parts).removeprefix(r"\s+")
    return re.compile(rf"(?<![\w']){body}(?![\w'])")


@dataclass(frozen=True)
class Cues:
    benign: tuple[re.Pattern[str], ...]
    cues: tuple[tuple[_Cue, tuple[re.Pattern[str], ...]], ...]

    def detect(self, request: str) -> Contrary | None:
        """The first cue the request carries (in file order), or None when it may be planned."""
        text = " ".join(_words(request))
        for pat in self.benign:
            text = pat.sub(" ", text)
        for cue, patterns in self.cues:
            for pat in patterns:
                m = pat.search(text)
                if m:
                    return Contrary(cue.kind, m.group(0).strip(), cue.say, cue.question)
        return None


@cache
def load_cues(path: Path = CUES_FILE) -> Cues:
    raw = read_yaml_mapping(path, CueError, "cue")
    try:
        f = _CueFile.model_validate(raw)
    except ValidationError as e:
        raise CueError(f"{path}: invalid cue file\n{format_validation_error(e)}") from None
    return Cues(
        tuple(_pattern(p) for p in f.benign),
        tuple((c, tuple(_pattern(p) for p in c.phrases)) for c in f.cues),
    )


def contrary(request: str) -> Contrary | None:
    """Why ``request`` must not be planned as the task it resembles, or None."""
    return load_cues().detect(request)
