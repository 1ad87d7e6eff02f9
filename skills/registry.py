"""The skill registry: every SkillSpec by name, and the JSON schema planners (and LLMs) read."""

from __future__ import annotations

from typing import Any

from skills.library import (
    hands,
    hold,
    home,
    look_at,
    pick,
    place,
    pour,
    step_back,
    turn_to,
    wait,
    walk_to,
    wave,
)
from skills.spec import SceneNames, SkillSpec

_SKILLS: dict[str, SkillSpec] = {}


def register_skill(spec: SkillSpec) -> None:
    if spec.name in _SKILLS:
        raise ValueError(f"skill '{spec.name}' is already registered")
    _SKILLS[spec.name] = spec


def get_skill(name: str) -> SkillSpec:
    spec = _SKILLS.get(name)
    if spec is None:
        raise KeyError(f"unknown skill '{name}'; skills: {', '.join(sorted(_SKILLS))}")
    return spec


def all_skills() -> list[SkillSpec]:
    return [_SKILLS[n] for n in sorted(_SKILLS)]


def skill_schema(spec: SkillSpec, scene: SceneNames | None = None) -> dict[str, Any]:
    """A skill as a tool definition: name, description, JSON schema of its arguments.

    With a scene, every name argument becomes an enum of that scene's names.
    """
    params = spec.args.model_json_schema()
    for prop in params.get("properties", {}).values():
        kind = prop.pop("x-scene-names", None)
        if kind and scene is not None:
            prop["enum"] = scene.names_of(kind)
    return {"name": spec.name, "description": spec.description, "parameters": params}


for _spec in (
    walk_to.SPEC,
    turn_to.SPEC,
    pick.SPEC,
    place.SPEC,
    pour.SPEC,
    hold.SPEC,
    hands.OPEN_SPEC,
    hands.CLOSE_SPEC,
    look_at.SPEC,
    home.SPEC,
    wait.SPEC,
    step_back.SPEC,
    wave.SPEC,
):
    register_skill(_spec)
