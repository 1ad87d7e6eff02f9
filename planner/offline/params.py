"""A recipe's parameters: read from a request, and checked against the scene.

Names go to parameters by cue first ("into the flask" fills the parameter cued by "into"), then in the
order they are mentioned; volumes go to the parameter whose object follows them ("80 ml of peroxide"), or
to a recipe's only volume. Whatever the request leaves out takes the recipe's default; a parameter with
no default that the request does not name is reported missing, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envs.base import WorldState
from planner.offline import mentions as m
from planner.offline.recipes import MAX_ML, ParamType, Recipe
from skills.spec import SceneNames

_NAME_KINDS = {
    ParamType.GRASPABLE: "graspable",
    ParamType.CONTAINER: "containers",
    ParamType.STATION: "stations",
}


def names_of(kind: ParamType, scene: SceneNames) -> list[str]:
    if kind == ParamType.ZONE:
        return sorted(n for n, t in scene.objects.items() if t == "zone")
    return scene.names_of(_NAME_KINDS[kind])


@dataclass(frozen=True)
class Extraction:
    params: dict[str, Any]
    missing: list[str]  # required parameters the request did not give
    given: set[str]  # parameters the request gave (not defaults)


def extract(recipe: Recipe, text: str, world: WorldState) -> Extraction:
    """The recipe's parameters as far as the request gives them, defaults for the rest."""
    scene = SceneNames.from_world(world)
    found: dict[str, Any] = {}
    named = {
        p: spec for p, spec in recipe.params.items() if spec.type not in (ParamType.HAND, ParamType.VOLUME)
    }
    said = m.mentions(text, world)
    used: set[int] = set()
    cues = {c for spec in named.values() for c in spec.cue}
    # Cued mentions first, so an uncued parameter does not take "the flask" out of "into the flask"; a
    # parameter with a default is only overridden by a cued mention ("80 ml of peroxide" is no flask).
    for by_cue in (True, False):
        for p, spec in named.items():
            skip = not spec.cue if by_cue else spec.default is not None
            if p in found or skip:
                continue
            kinds = set(names_of(spec.type, scene))
            for i, men in enumerate(said):
                fits = men.cue in spec.cue if by_cue else men.cue not in cues - set(spec.cue)
                if i not in used and men.name in kinds and fits:
                    found[p] = men.name
                    used.add(i)
                    break
    volume_params = [p for p, spec in recipe.params.items() if spec.type == ParamType.VOLUME]
    for vol in m.volumes(text, world):
        target = next((p for p in volume_params if vol.of and recipe.params[p].refers_to == vol.of), None)
        if target is None and len(volume_params) == 1:
            target = volume_params[0]
        if target is not None and target not in found:
            found[target] = vol.ml
    hand = m.hand(text)
    for p, spec in recipe.params.items():
        if spec.type == ParamType.HAND and hand is not None:
            found[p] = hand
    params = {p: found.get(p, spec.default) for p, spec in recipe.params.items()}
    return Extraction(
        {p: v for p, v in params.items() if v is not None},
        [p for p, v in params.items() if v is None],
        set(found),
    )


def problems(recipe: Recipe, params: dict[str, Any], scene: SceneNames) -> list[str]:
    """What is wrong with bound parameters (a checkpointed intent, a request's numbers), as sentences."""
    out = []
    for p, spec in recipe.params.items():
        v = params.get(p)
        if v is None:
            out.append(f"'{p}' is missing")
        elif spec.type == ParamType.HAND:
            if v not in ("left", "right", "auto"):
                out.append(f"'{p}' is left, right or auto, not {v!r}")
        elif spec.type == ParamType.VOLUME:
            if isinstance(v, str) or not 0 < v <= MAX_ML:
                out.append(f"'{p}' is a volume in (0, {MAX_ML:.0f}] ml, not {v!r}")
        elif v not in names_of(spec.type, scene):
            out.append(
                f"'{p}' is a {spec.type.value}: one of {', '.join(names_of(spec.type, scene))}; not {v!r}"
            )
    out.extend(f"'{p}' is not a parameter of this recipe" for p in set(params) - set(recipe.params))
    return out
