"""Prompt templates (planner/prompts/*.md) and what fills them: the skills, the scene, the world.

Templates use ``{{name}}`` placeholders, substituted in one pass (a value is never expanded again, so
text from the request or the scene cannot inject placeholders); an unknown or missing name is an error.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envs.base import WorldState
from envs.predicates import get_predicate, predicate_names
from skills.registry import all_skills, skill_schema
from skills.spec import SceneNames

_VAR = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")

# Placeholders each template may use.
ALLOWED = {
    "system": {"skills", "scene", "output", "predicates"},
    "request": {"goal", "world"},
    "replan": {"goal", "world", "failure", "succeeded", "previous_plan", "decision"},
    "repair": {"errors"},
}


@dataclass(frozen=True)
class Template:
    role: str
    path: Path
    text: str

    @classmethod
    def load(cls, role: str, path: str | Path) -> Template:
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        unknown = set(_VAR.findall(text)) - ALLOWED[role]
        if unknown:
            raise ValueError(
                f"prompt {path}: unknown placeholders {sorted(unknown)}; a {role} prompt may use "
                + ", ".join("{{" + n + "}}" for n in sorted(ALLOWED[role]))
            )
        return cls(role, path, text)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def info(self) -> dict[str, str]:
        return {"name": self.path.name, "path": str(self.path), "sha256": self.sha256}

    def render(self, **values: str) -> str:
        return _VAR.sub(lambda m: values[m.group(1)], self.text)


def _constraint(prop: dict[str, Any]) -> str:
    bits = []
    if "exclusiveMinimum" in prop:
        bits.append(f"> {prop['exclusiveMinimum']:g}")
    if "minimum" in prop:
        bits.append(f">= {prop['minimum']:g}")
    if "maximum" in prop:
        bits.append(f"<= {prop['maximum']:g}")
    return " ".join(bits)


def describe_skills(scene: SceneNames | None) -> str:
    """One line per registered skill: its signature (names restricted to the scene) and description."""
    lines = []
    for spec in all_skills():
        params = skill_schema(spec, scene)["parameters"]
        required = set(params.get("required", []))
        args = []
        for name, prop in params.get("properties", {}).items():
            kind = "|".join(map(str, prop["enum"])) if "enum" in prop else prop.get("type", "any")
            kind = {"number": "number", "string": "text", "integer": "integer"}.get(kind, kind)
            extra = _constraint(prop)
            arg = f"{name}: {kind}{' ' + extra if extra else ''}"
            if name not in required:
                arg += f" = {json.dumps(prop.get('default'))}"
            args.append(arg)
        lines.append(f"- {spec.name}({', '.join(args)}): {spec.description}")
    return "\n".join(lines)


def describe_predicates() -> str:
    """One line per goal predicate (envs/predicates.py): its parameters, with defaults."""
    lines = []
    for name in predicate_names():
        params = list(inspect.signature(get_predicate(name)).parameters.values())[1:]
        shown = ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default}" for p in params)
        doc = (get_predicate(name).__doc__ or "").strip().splitlines()
        lines.append(f"- {name}({shown})" + (f": {doc[0]}" if doc else ""))
    return "\n".join(lines)


def describe_scene(scene: SceneNames) -> str:
    objects = ", ".join(f"{n} ({t})" for n, t in sorted(scene.objects.items()))
    return (
        f"Stations: {', '.join(sorted(scene.stations))}.\nObjects (type): {objects}.\n"
        f"Containers (hold liquids): {', '.join(sorted(scene.containers))}."
    )


def _r(x: float) -> str:
    return f"{round(x, 2) + 0.0:.2f}"  # + 0.0: no "-0.00"


def describe_world(world: WorldState) -> str:
    """The world as the planner needs it, rounded so that small physics noise does not change the text."""
    r = world.robot
    x, y, yaw = r.base_pose
    hands = ", ".join(f"{h} hand holds {o or 'nothing'}" for h, o in sorted(r.holding.items()))
    out = [
        f"Robot: at station {r.station}" if r.station else "Robot: at no station",
        f"  base (x, y, yaw) = ({_r(x)} m, {_r(y)} m, {round(math.degrees(yaw)) + 0:d} deg); {hands}.",
        "Objects:",
    ]
    for name, o in sorted(world.objects.items()):
        where = f"held by the {o.held_by} hand" if o.held_by else f"at {o.station or 'no station'}"
        zone = f", in {o.in_zone}" if o.in_zone else ""
        tilt = f", tilted {o.tilt_deg:.0f} deg" if o.tilt_deg > 20 else ""
        pos = ", ".join(_r(v) for v in o.pos)
        out.append(f"- {name} ({o.type}): {where}{zone}, at ({pos}){tilt}")
    out.append("Containers:")
    for name, c in sorted(world.containers.items()):
        held = ", ".join(f"{liq} {ml:.0f} ml" for liq, ml in sorted(c.contents_ml.items()) if ml >= 0.5)
        foam = f", foam {c.foam_ml:.0f} ml" if c.foam_ml >= 0.5 else ""
        out.append(f"- {name}: {held or 'empty'} (capacity {c.capacity_ml:.0f} ml){foam}")
    if world.spilled_ml >= 0.5:
        out.append(f"Spilled: {world.spilled_ml:.0f} ml.")
    for rx in world.reactions:
        out.append(f"Reaction: {rx.reaction} in {rx.container}, {rx.progress * 100:.0f}% done.")
    if world.unstable:
        out.append(f"The simulation is unstable: {world.unstable}.")
    return "\n".join(out)
