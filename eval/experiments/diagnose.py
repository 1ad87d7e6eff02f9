"""``tandem diagnose POLICY``: the experiment's prompt- and position-sensitivity diagnostics on one policy,
and a verdict ("ignores the instruction", "ignores the object position", "ok").

The policy runs the reference task closed loop on N scene seeds (different object positions), then the
same seeds, scene and plan told a probe task's instruction (the experiment's prompt probe). From the
recorded trajectories: start sensitivity (grasp position against object position, slope and R² per
axis), prompt sensitivity (trajectory distance reference vs probe, same seed), and from the physics how
often the probe's own task was done and how often the reference task was done anyway. ``verdict`` turns
those numbers into findings with the thresholds below; it is a pure function.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.experiments import diagnostics as dg

SUITE = "diagnose"
SETUP = "setup.json"
DEFAULT_TASK = "block_to_zone"
DEFAULT_PROBE = "block_to_tray"  # the same block to another place: only the words differ
# Reference and probe tasks per robot (env backend) when --task/--probe are not given.
DEFAULT_TASKS = {"g1_lab": (DEFAULT_TASK, DEFAULT_PROBE), "so100": ("so100_block", "so100_lift")}
DEFAULT_SEEDS = 8
SEEDS_START = 40000  # far from every demonstration seed (collections start at 0)
TIME_BUDGET_S = 300.0

# Below this RMS joint distance (rad) two rollouts are the same motion: the experiment's own
# unique-trajectory threshold (lora_vs_full.yaml diagnostics.unique_threshold_rad).
PROMPT_DISTANCE_MIN = 0.05
# Told another task, it did the reference task at least half as often as when told the reference task:
# the words did not change what it did.
SAME_TASK_SHARE = 0.5
# A slope halfway between ignoring the object (0) and going where it is (1).
SLOPE_MIN = 0.5
# At least half the spread of the grasp position is explained by the object's position.
R2_MIN = 0.5
# A line through fewer points says nothing (two points always fit with R² = 1).
MIN_FIT_ROLLOUTS = 3

THRESHOLDS = {
    "PROMPT_DISTANCE_MIN": (PROMPT_DISTANCE_MIN, "rad: below it, two rollouts are the same motion"),
    "SAME_TASK_SHARE": (
        SAME_TASK_SHARE,
        "told the probe, it did the reference task at least this share as often as when told it",
    ),
    "SLOPE_MIN": (SLOPE_MIN, "grasp-on-object slope halfway between ignoring (0) and following (1)"),
    "R2_MIN": (R2_MIN, "at least this share of the grasp's spread explained by the object position"),
    "MIN_FIT_ROLLOUTS": (MIN_FIT_ROLLOUTS, "fewer rollouts than this: the position is not measured"),
}

IGNORES_INSTRUCTION = "ignores the instruction"
IGNORES_POSITION = "ignores the object position"
OK = "ok"
INCONCLUSIVE = "inconclusive"


class DiagnoseError(ValueError):
    """A policy, task or scene that cannot be diagnosed; the message says which and why."""


# -- what runs ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Setup:
    """One diagnosis: a policy (manipulation spec), the reference task and the probe task, where."""

    policy: str
    task: str = DEFAULT_TASK
    probe: str = DEFAULT_PROBE
    scene: str | None = None  # None: the reference task's scene
    seeds: tuple[int, ...] = tuple(range(SEEDS_START, SEEDS_START + DEFAULT_SEEDS))
    time_budget_s: float = TIME_BUDGET_S


def default_tasks(scene: str | None, task: str | None = None) -> tuple[str, str]:
    """The reference and probe tasks for the robot of ``scene`` (else of ``task``'s scene; else the G1)."""
    from envs.registry import env_for_scene
    from skills.tasks.schema import TaskError, load_task

    if scene is None and task is not None:
        try:
            scene = load_task(task).scene
        except TaskError as e:
            raise DiagnoseError(str(e)) from None
    return DEFAULT_TASKS.get(env_for_scene(scene or "g1_lab"), (DEFAULT_TASK, DEFAULT_PROBE))


def policy_spec(policy: str) -> str:
    """POLICY as ``--manipulation`` takes it; a bare checkpoint folder means ``policy:FOLDER``."""
    from skills.policies.manipulation import schemes

    policy = policy.strip()
    if policy == "scripted":
        raise DiagnoseError("POLICY 'scripted': the scripted expert takes no instruction; give a policy")
    if any(policy.startswith(s) for s in schemes() if s[-1] in ":/"):
        return policy
    if Path(policy).is_dir():
        return f"policy:{policy}"
    raise DiagnoseError(
        f"POLICY '{policy}': not a checkpoint folder, and not a manipulation spec "
        f"({', '.join(s + '...' for s in schemes() if s[-1] in ':/')})"
    )


def load_tasks(setup: Setup):
    """The reference and probe tasks and the scene they run in, checked: the reference task moves an
    object the scene has, the probe is judged there. A G1 scene runs the task's plan; a scene of a robot
    without skills (the SO-100) runs the policy on the whole task, so its tasks must be that robot's."""
    from agent.session import plannable
    from envs.registry import env_for_scene
    from envs.scene_schema import SceneError, load_scene
    from eval.experiments.episodes import probe_problem, target
    from skills.controllers.experts import get_expert
    from skills.tasks.schema import TaskError, load_task

    try:
        task, probe = load_task(setup.task), load_task(setup.probe)
    except TaskError as e:
        raise DiagnoseError(str(e)) from None
    if probe.instruction == task.instruction:
        raise DiagnoseError(f"--probe '{probe.name}' says what --task '{task.name}' says: nothing to compare")
    scene = setup.scene or task.scene
    if plannable(scene):
        try:
            objects = set(load_scene(scene).objects)
        except SceneError as e:
            raise DiagnoseError(str(e)) from None
        problem = probe_problem(probe, scene)
    else:
        for which, t in (("--task", task), ("--probe", probe)):
            if t.expert is None or scene not in get_expert(t.expert).scenes:
                raise DiagnoseError(
                    f"{which} '{t.name}' is not a task of scene {scene} (built by the "
                    f"'{env_for_scene(scene)}' backend, a robot without skills: its tasks name a whole-task "
                    "expert for it)"
                )
        assert task.expert is not None  # checked in the loop above
        objects = set(get_expert(task.expert).objects)
        problem = None
    try:
        obj, _ = target(task)
    except ValueError as e:
        raise DiagnoseError(str(e)) from None
    if obj not in objects:
        raise DiagnoseError(f"--scene {scene} has no '{obj}', the object task '{task.name}' moves")
    if problem:
        raise DiagnoseError(f"--probe {problem}")
    return task, probe, scene


def episodes(setup: Setup) -> list:
    """The reference task on every seed, then the probe on the same seeds (one attempt each)."""
    from eval.experiments.episodes import episode, with_say

    task, probe, scene = load_tasks(setup)
    told = with_say(setup.policy, probe.instruction)
    ref = [episode(SUITE, task, task, s, setup.policy, setup.time_budget_s, scene) for s in setup.seeds]
    probes = [episode(SUITE, probe, task, s, told, setup.time_budget_s, scene) for s in setup.seeds]
    return ref + probes


def check_policy(backend, scene: str) -> None:
    """A Tandem VLA checkpoint built for another robot than ``scene``'s fails here, before any episode."""
    from envs.registry import env_for_scene
    from eval.datasets.layout import LAYOUTS

    config = getattr(getattr(backend, "policy", None), "config", None)
    if config is None:  # a GR00T server: its embodiment mapping is checked on the first request
        return
    try:
        config.embodiment(LAYOUTS[env_for_scene(scene)].robot_type)
    except ValueError as e:
        raise DiagnoseError(f"--scene {scene}: {e}") from None


def claim_folder(out: Path, setup: Setup) -> None:
    """A results folder holds one diagnosis: rerunning it resumes, another one there would mix results."""
    from eval.experiments.backends import claim

    changed = claim(out / SETUP, asdict(setup))
    if changed:
        raise DiagnoseError(
            f"{out} holds a diagnosis with other {', '.join(changed)}: use another --out, or the same "
            "arguments to resume it"
        )


# -- numbers ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measured:
    """The numbers a verdict is drawn from (NaN where not measurable)."""

    episodes: int
    success: dg.Rate  # the reference task, told the reference task
    rollouts: int  # reference episodes with a trajectory
    start: dict[str, dg.Fit]  # per axis x, y: grasp on object start
    probe_n: int
    probe_followed: int  # told the probe, did the probe's task
    probe_did_reference: int  # told the probe, did the reference task anyway
    prompt_distance: float  # mean trajectory distance reference vs probe, same seed (rad)
    prompt_pairs: int
    spread: dg.Spread  # pairwise distance of the reference rollouts across seeds
    errors: int = 0  # episodes that crashed or ran out of time


def did_task(row: dict[str, Any], runs: Path, task) -> bool:
    """Whether ``task``'s success predicates hold on the final world of an episode's run record."""
    from eval.metrics import evaluate_checks, world_from_dict

    summary = runs / (row["run_id"] or "") / "summary.json"
    if not row["run_id"] or not summary.exists():
        return False
    world = world_from_dict(json.loads(summary.read_text())["final_world"])
    checks = evaluate_checks(world, [(c.predicate, dict(c.params)) for c in task.success])
    return bool(checks) and all(c["ok"] for c in checks)


def measure(rows: list[dict[str, Any]], runs: Path, task, probe) -> Measured:
    from eval.experiments.episodes import split, target, task_joints

    obj, hand = target(task)
    ref_rows, probe_rows, ref, probes = split(rows, task.name, runs, obj, hand, task_joints(task, hand))
    prompt = dg.prompt_sensitivity(ref, probes)
    return Measured(
        episodes=len(rows),
        success=dg.success_rate([bool(r["success"]) for r in ref_rows]),
        rollouts=len(ref),
        start=dg.start_sensitivity(ref) if len(ref) >= 2 else {},
        probe_n=len(probe_rows),
        probe_followed=sum(bool(r["success"]) for r in probe_rows),
        probe_did_reference=sum(did_task(r, runs, task) for r in probe_rows),
        prompt_distance=prompt.distance,
        prompt_pairs=prompt.pairs,
        spread=dg.pairwise_spread([r.traj for r in ref]),
        errors=sum(r["status"] != "ok" for r in rows),
    )


# -- verdict ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    verdict: str  # IGNORES_INSTRUCTION, IGNORES_POSITION or INCONCLUSIVE
    because: str  # the numbers that led to it, against their thresholds


@dataclass(frozen=True)
class Verdict:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the numbers that passed, for the record

    @property
    def labels(self) -> list[str]:
        return [f.verdict for f in self.findings] or [OK]


def _follows(fit: dg.Fit) -> bool:
    return not math.isnan(fit.slope) and fit.slope >= SLOPE_MIN and fit.r2 >= R2_MIN


def verdict(m: Measured) -> Verdict:
    """Findings from the numbers: the instruction is ignored when the probe's rollouts are the reference
    rollouts' motion (distance below PROMPT_DISTANCE_MIN) or did the reference task at least
    SAME_TASK_SHARE as often; the object position is ignored when on no axis the grasp follows the object
    (slope >= SLOPE_MIN with R² >= R2_MIN) over at least MIN_FIT_ROLLOUTS rollouts."""
    findings: list[Finding] = []
    notes: list[str] = []

    # -- the instruction
    same_motion = m.prompt_pairs > 0 and m.prompt_distance < PROMPT_DISTANCE_MIN
    k = m.success.k
    same_task = m.probe_did_reference > 0 and m.probe_did_reference >= SAME_TASK_SHARE * k
    dist = f"reference-vs-probe trajectory distance {m.prompt_distance:.3f} rad over {m.prompt_pairs} seeds"
    did = (
        f"told the probe, it did the reference task on {m.probe_did_reference}/{m.probe_n} seeds "
        f"(told the reference task: {k}/{m.success.n}) and the probe's task on {m.probe_followed}/{m.probe_n}"
    )
    if same_motion or same_task:
        why = []
        if same_motion:
            why.append(f"{dist} < PROMPT_DISTANCE_MIN {PROMPT_DISTANCE_MIN}")
        if same_task:
            why.append(f"{did}: {m.probe_did_reference} >= SAME_TASK_SHARE {SAME_TASK_SHARE} x {k}")
        findings.append(Finding(IGNORES_INSTRUCTION, "; ".join(why)))
    elif m.prompt_pairs == 0 and m.probe_n == 0:
        findings.append(Finding(INCONCLUSIVE, "no probe episode: the instruction was not measured"))
    else:
        notes.append(f"instruction: {dist}; {did}")

    # -- the object position
    fits = "; ".join(f"{axis}: slope {f.slope:.2f}, R² {f.r2:.2f}" for axis, f in sorted(m.start.items()))
    if m.rollouts < MIN_FIT_ROLLOUTS or not m.start:
        findings.append(
            Finding(
                INCONCLUSIVE,
                f"{m.rollouts} reference rollouts with a trajectory < MIN_FIT_ROLLOUTS {MIN_FIT_ROLLOUTS}: "
                "the object position was not measured",
            )
        )
    elif not any(_follows(f) for f in m.start.values()):
        findings.append(
            Finding(
                IGNORES_POSITION,
                f"grasp on object start over {m.rollouts} rollouts, {fits}: on no axis slope >= SLOPE_MIN "
                f"{SLOPE_MIN} with R² >= R2_MIN {R2_MIN}",
            )
        )
    else:
        followed = [a for a, f in sorted(m.start.items()) if _follows(f)]
        notes.append(f"position: grasp follows the object along {', '.join(followed)} ({fits})")
    return Verdict(findings, notes)


# -- running ------------------------------------------------------------------------------------------
def run(setup: Setup, out: Path, workers: int = 1, progress: bool = True) -> tuple[Measured, dict]:
    """Run (or resume) the diagnosis's episodes in ``out``; returns the numbers and the runner's counts."""
    from eval.runner import RUNS, Results, run_eval

    task, probe, _ = load_tasks(setup)
    claim_folder(out, setup)
    res = run_eval(episodes(setup), out, workers=workers, progress=progress)
    results = Results.open_existing(out)
    try:
        rows = [r for r in results.rows() if r["suite"] == SUITE]
    finally:
        results.close()
    return measure(rows, out / RUNS, task, probe), res


def as_json(setup: Setup, m: Measured, v: Verdict) -> dict[str, Any]:
    from eval.experiments.analysis import json_safe

    return json_safe(
        {
            "setup": asdict(setup),
            "verdict": v.labels,
            "findings": [asdict(f) for f in v.findings],
            "notes": v.notes,
            "measured": asdict(m),
            "thresholds": {k: {"value": val, "why": why} for k, (val, why) in THRESHOLDS.items()},
            "definitions": {
                k: dg.DEFINITIONS[k]
                for k in ("Start sensitivity", "Grasp position", "Prompt sensitivity", "Trajectory distance")
            },
        }
    )
