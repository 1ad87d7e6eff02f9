"""Per-episode perturbations of a task, drawn from its variation bounds with the episode's seed.

Every value is named and plain (JSON), recorded in the episode's metadata, and is all a replay needs besides
the seed: ``expert`` goes to the scripted controllers (skills/controllers/variation.py), ``cameras``,
``lighting``, ``colours`` and ``aside`` to the env (envs/lab/variation.py); the object poses come from
``env.reset(seed)`` and the scene's ranges.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from skills.controllers.variation import ExpertVariation
from skills.tasks.schema import TaskSpec

STREAM = 0x7A5C  # the perturbations' own random stream: the env's pose sampling uses default_rng(seed)
DIGITS = 6


def _objects_of(task: TaskSpec) -> list[str]:
    names: list[str] = []
    for call in task.calls:
        for key in ("object", "source"):
            v = call.args.get(key)
            if isinstance(v, str) and v not in names:
                names.append(v)
    return names


def sample_perturbations(
    task: TaskSpec,
    seed: int,
    cameras: list[str],
    lights: list[str],
    rgba: dict[str, list[float]],
    vary: bool = True,
    paraphrase: bool = False,
) -> dict[str, Any]:
    """Named perturbations of one episode. ``rgba`` holds the nominal colours of the task's objects;
    with ``vary=False`` every perturbation is nominal (the deterministic expert)."""
    rng = np.random.default_rng([seed, STREAM])
    v = task.variation

    def pm(bound: float) -> float:
        return round(float(rng.uniform(-bound, bound)), DIGITS) if vary and bound > 0 else 0.0

    speed = round(float(rng.uniform(*v.speed)), DIGITS) if vary else 1.0
    expert = {
        "speed": speed,
        "grasp_offset": [pm(b) for b in v.grasp_offset_m],
        "approach_offset": pm(v.approach_offset_m),
        "via_offset": [pm(b) for b in v.via_offset_m],
    }
    cams = {
        cam: {
            "pos_m": [pm(v.camera_pos_mm / 1000) for _ in range(3)],
            "rot_deg": [pm(v.camera_deg) for _ in range(3)],
        }
        for cam in cameras
    }
    lighting = {name: round(1.0 + pm(v.lighting), DIGITS) for name in lights} if v.lighting else {}
    colours = {}
    if v.colour:
        for name in _objects_of(task):
            if name in rgba:
                colours[name] = [round(min(1.0, max(0.0, c + pm(v.colour))), DIGITS) for c in rgba[name][:3]]
                colours[name].append(rgba[name][3])
    pool = sorted(v.distractors.objects)
    lo, hi = v.distractors.count
    k = int(rng.integers(lo, hi + 1)) if vary and pool else lo
    used = sorted(str(n) for n in rng.choice(pool, size=k, replace=False)) if pool else []
    phrasings = task.phrasings
    instruction = phrasings[int(rng.integers(len(phrasings)))] if paraphrase else task.instruction
    return {
        "seed": seed,
        "instruction": instruction,
        "expert": expert,
        "cameras": cams,
        "lighting": lighting,
        "colours": colours,
        "distractors": used,
        "aside": [n for n in pool if n not in used],
    }


def expert_of(perturbations: dict[str, Any]) -> ExpertVariation:
    e = perturbations["expert"]
    return ExpertVariation(
        speed=e["speed"],
        grasp_offset=tuple(e["grasp_offset"]),
        approach_offset=e["approach_offset"],
        via_offset=tuple(e["via_offset"]),
    )
