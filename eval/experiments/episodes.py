"""Closed-loop episodes of one policy on a reference task and the prompt probe, and their recorded
trajectories read back as rollouts: what ``tandem experiment lora-vs-full`` and ``tandem diagnose``
share.

The prompt probe keeps the reference task's scene, seed and plan and tells the policy another task's
instruction (``say=`` on the manipulation spec); it is judged by that other task's success predicates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from eval.experiments import diagnostics as dg

TRAJECTORY_HZ = 10.0
HANDS = ("left", "right")  # the effectors of a trajectory recorded before it named them


def hand_joints(hand: str) -> slice:
    """The acting hand's arm + hand joints in the 43-D state (right: 29:43, left: 15:29)."""
    from envs.robots.g1.g1_constants import GROUP_JOINTS

    start = 0
    index = {}
    for group, joints in GROUP_JOINTS.items():
        index[group] = start
        start += len(joints)
    return slice(index[f"{hand}_arm"], index[f"{hand}_hand"] + len(GROUP_JOINTS[f"{hand}_hand"]))


def target(task) -> tuple[str, str]:
    """The object a task moves and the gripper that moves it: its expert's first pick, or for a whole-task
    expert (a robot without skills) the object its success predicates name, in the robot's gripper."""
    for call in task.calls:
        if call.skill == "pick":
            return str(call.args["object"]), str(call.args.get("hand", "right"))
    if task.expert is not None:
        from skills.controllers.experts import get_expert

        named = [c.params["object"] for c in task.success if "object" in c.params]
        if named:
            return str(named[0]), get_expert(task.expert).effector
    raise ValueError(f"task '{task.name}' picks nothing: its grasp cannot be measured")


def task_joints(task, hand: str) -> slice:
    """The joints a task's trajectories are compared on: the acting G1 hand's arm and fingers, or every
    joint of a robot without skills (one arm)."""
    return slice(None) if task.expert is not None else hand_joints(hand)


def with_say(spec: str, sentence: str) -> str:
    """A manipulation spec whose policy is told ``sentence`` for every call (the prompt probe)."""
    return f"{spec}{'&' if '?' in spec else '?'}say={quote(sentence)}"


def probe_problem(probe, scene: str) -> str | None:
    """Why ``probe`` cannot be judged in ``scene`` (its success predicates name objects the scene lacks),
    or None. A probe runs in the reference task's scene."""
    from envs.scene_schema import load_scene

    objects = set(load_scene(scene).objects)
    named = {v for c in probe.success for k, v in c.params.items() if k in ("object", "zone", "target")}
    if named - objects:
        return (
            f"'{probe.name}' is judged on {sorted(named - objects)}, which scene '{scene}' of the reference "
            "task lacks (a probe runs in the reference task's scene)"
        )
    return None


def episode(
    suite: str,
    judged_by,
    reference,
    seed: int,
    manipulation: str,
    time_budget_s: float,
    scene: str | None = None,
):
    """One eval episode judged on one attempt: the ``reference`` task's plan in its scene (or ``scene``),
    judged by ``judged_by``'s success predicates (the reference task itself, or a probe's)."""
    from eval.suite import Episode

    return Episode(
        suite=suite,
        case_id=judged_by.name,
        planner="offline",
        prompt="",
        model="",
        seed=seed,
        scene=scene or reference.scene,
        goal=reference.instruction,
        faults=(),
        time_budget_s=time_budget_s,
        locomotion=reference.locomotion,  # where its demonstrations were recorded
        case={
            "subgoals": [],
            "success": [[c.predicate, dict(c.params)] for c in judged_by.success],
            "expect": None,
            "max_sim_s": reference.max_sim_s,  # a whole-task episode's length (robots without skills)
        },
        manipulation=manipulation,
        trajectory_hz=TRAJECTORY_HZ,
        one_attempt=True,
    )


def rollout(row: dict[str, Any], runs: Path, obj: str, hand: str, joints: slice) -> dg.Rollout | None:
    """An eval row with its recorded trajectory as a Rollout (None when the episode left none)."""
    from eval.trajectory import load_trajectory

    tr = load_trajectory(runs / (row["run_id"] or "")) if row["run_id"] else None
    if tr is None or len(tr["t"]) == 0:
        return None
    names = [str(n) for n in tr["names"]]
    if obj not in names:
        return None
    effectors = [str(e) for e in tr["effectors"]] if "effectors" in tr else list(HANDS)
    if hand not in effectors:
        return None
    k, h = names.index(obj), effectors.index(hand)
    start = np.asarray(tr["objects"][0, k], float)
    grasp = dg.grasp_point(tr["t"], tr["hands"][:, h], tr["held"][:, h] == k, start)
    return dg.Rollout(
        seed=int(row["seed"]),
        instruction=row["goal"] or "",
        success=bool(row["success"]),
        traj=dg.Trajectory(tr["t"], tr["q"][:, joints]),
        object_start=start,
        grasp=grasp,
    )


def split(
    rows: list[dict[str, Any]], task: str, runs: Path, obj: str, hand: str, joints: slice
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dg.Rollout], list[dg.Rollout]]:
    """One policy's eval rows split into the reference task's and the probes', each with its rollouts."""
    ref_rows = [r for r in rows if r["case_id"] == task]
    probe_rows = [r for r in rows if r["case_id"] != task]
    ref = [x for r in ref_rows if (x := rollout(r, runs, obj, hand, joints))]
    probes = [x for r in probe_rows if (x := rollout(r, runs, obj, hand, joints))]
    return ref_rows, probe_rows, ref, probes
