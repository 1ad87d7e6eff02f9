"""From the experiment's records to numbers: eval rows and trajectories -> rollouts -> diagnostics per
cell, training summaries, and the Fisher exact comparisons the verdicts quote."""

from __future__ import annotations

import contextlib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from eval.experiments import backends
from eval.experiments import diagnostics as dg
from eval.experiments.config import ExperimentConfig
from eval.metrics import fisher_exact
from eval.runner import RUNS, Results


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def json_safe(d: Any) -> Any:
    """NaN -> None, recursively, so the JSON is valid."""
    if isinstance(d, dict):
        return {k: json_safe(v) for k, v in d.items()}
    if isinstance(d, list | tuple):
        return [json_safe(v) for v in d]
    if isinstance(d, float):
        return _num(d)
    return d


def group_diagnostics(
    rows: list[dict[str, Any]],
    probe_rows: list[dict[str, Any]],
    rollouts: list[dg.Rollout],
    probes: list[dg.Rollout],
    demos: list[dg.Trajectory],
    threshold: float,
) -> dict[str, Any]:
    """Every diagnostic of one policy (or the expert) on the held-out seeds."""
    rate = dg.success_rate([bool(r["success"]) for r in rows])
    misses = Counter(miss(r) for r in rows if not r["success"])
    spread = dg.pairwise_spread([r.traj for r in rollouts], threshold)
    mem = dg.memorization([r.traj for r in rollouts], demos) if demos and rollouts else None
    start = dg.start_sensitivity(rollouts) if len(rollouts) >= 2 else {}
    prompt = dg.prompt_sensitivity(rollouts, probes) if probe_rows else None
    return {
        "success": asdict(rate),
        "errors": sum(r["status"] != "ok" for r in rows),
        "misses": dict(misses.most_common()),
        "trajectories": len(rollouts),
        "spread": asdict(spread),
        "memorization": None
        if mem is None
        else {
            "median_rollout": mem.median_rollout,
            "median_demo": mem.median_demo,
            "ratio": mem.ratio,
            "rollout_to_demo": mem.rollout_to_demo,
        },
        "start": {axis: asdict(f) for axis, f in start.items()},
        # An episode whose instruction was never acted on left no trajectory; it still counts as not done.
        "prompt": None
        if prompt is None
        else {
            **asdict(prompt),
            "followed": sum(bool(r["success"]) for r in probe_rows),
            "n": len(probe_rows),
        },
        "scatter": [
            {
                "seed": r.seed,
                "object": r.object_start.tolist(),
                "grasp": r.grasp.tolist(),
                "success": r.success,
            }
            for r in rollouts
        ],
    }


def miss(row: dict[str, Any]) -> str:
    """Why an episode failed, as the eval runner attributed it: ``skill:reason`` for an execution failure
    (``pick:not_grasped``), the kind otherwise, the status for a crash or a timeout."""
    if row["status"] != "ok":
        return row["status"]
    failure = (row["metrics"] or {}).get("failure") or {}
    kind = failure.get("kind") or "unattributed"
    return f"{failure['skill']}:{kind}" if failure.get("skill") else kind


OVERLAY_ROLLOUTS = 20  # rollouts per shown group kept for the report's trajectory overlays


def reference_demos(cfg: ExperimentConfig) -> int:
    """The story's 14 demonstrations when the config has them, else the middle demo count."""
    return 14 if 14 in cfg.demos else sorted(cfg.demos)[len(cfg.demos) // 2]


def shown_groups(cfg: ExperimentConfig, groups: Iterable[str]) -> list[str]:
    """The groups the report's scatter and overlays show: the expert, short LoRA and long full fine-tuning
    at the reference demo count (else the first three)."""
    from eval.experiments.lora_vs_full import EXPERT

    n = reference_demos(cfg)
    present = list(groups)
    shown = [g for g in (EXPERT, f"lora_short.d{n}.s0", f"full_long.d{n}.s0") if g in present]
    return shown or present[:3]


def trace(traj: dg.Trajectory, success: bool | None = None) -> dict[str, Any]:
    """The first joint (the acting arm's shoulder pitch) over time, as the report's overlays draw it."""
    out: dict[str, Any] = {"t": (traj.t - traj.t[0]).round(2).tolist(), "q": traj.q[:, 0].round(4).tolist()}
    return out if success is None else {**out, "success": success}


def versions() -> str:
    """What ran the experiment (the report may be written elsewhere, from the JSON files)."""
    import platform
    from importlib import metadata

    out = [f"python {platform.python_version()}"]
    for pkg in ("torch", "peft", "mujoco", "tandem-agent"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out.append(f"{pkg} {metadata.version(pkg)}")
    import torch

    if torch.cuda.is_available():
        out.append(torch.cuda.get_device_name(0))
    return ", ".join(out)


def analyse(cfg: ExperimentConfig, paths) -> dict[str, Any]:
    """diagnostics.json: per group (each cell, the expert) the diagnostics, training summary and the
    comparisons; plus the demonstrations' own spread."""
    from eval.experiments.episodes import hand_joints, split
    from eval.experiments.lora_vs_full import EXPERT

    results = Results.open_existing(paths.eval)
    try:
        rows = results.rows()
    finally:
        results.close()
    runs = paths.eval / RUNS
    h = cfg.held_out
    joints = hand_joints(h.hand)
    demos = backends.demo_trajectories(paths.data("held_out"), h.task, h.demo_pool, joints)
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_group[r["suite"]].append(r)

    cells = {c.id: c for c in cfg.cells()}
    groups: dict[str, Any] = {}
    shown = shown_groups(cfg, [EXPERT, *cells])
    overlays: dict[str, list[dict[str, Any]]] = {}
    for gid in [EXPERT, *cells]:
        grows = by_group.get(gid, [])
        ref_rows, probe_rows, ref, probes = split(grows, h.task, runs, h.object, h.hand, joints)
        cell = cells.get(gid)
        used = demos[: cell.demos] if cell else demos
        entry = group_diagnostics(
            ref_rows, probe_rows, ref, probes, used, cfg.diagnostics.unique_threshold_rad
        )
        if gid in shown:
            overlays[gid] = [trace(r.traj, r.success) for r in ref[:OVERLAY_ROLLOUTS]]
        if cell is not None:
            summary_path = paths.cell(cell) / backends.SUMMARY
            summary = backends.read_json(summary_path) if summary_path.exists() else {}
            entry.update(
                key=cell.key,
                method=cell.method.method,
                label=cell.method.label or cell.key,
                demos=cell.demos,
                seed=cell.seed,
                steps=cell.method.steps,
                lora_rank=cell.method.lora_rank if cell.method.method == "lora" else None,
                training={
                    k: summary.get(k)
                    for k in (
                        "wall_s",
                        "gpu_memory_gb",
                        "trainable_params",
                        "total_params",
                        "samples_s",
                        "first_loss",
                        "final_loss",
                    )
                },
                curve=summary.get("curve", []),
            )
        else:
            entry.update(key=EXPERT, method="scripted", label="scripted expert", demos=None, seed=None)
        groups[gid] = entry
    return json_safe(
        {
            "groups": groups,
            "demos": {
                "count": len(demos),
                "spread": asdict(dg.pairwise_spread(demos, cfg.diagnostics.unique_threshold_rad)),
            },
            # What the trajectory overlays draw, so the report needs no datasets or rollouts to be written.
            "overlays": {
                "demos": [trace(d) for d in demos[: reference_demos(cfg)]],
                "groups": overlays,
            },
            "definitions": {**dg.DEFINITIONS, "Misses": " ".join((miss.__doc__ or "").split())},
            "versions": versions(),
        }
    )


def pooled(groups: dict[str, Any], key: str, demos: int) -> tuple[int, int]:
    """Successes and episodes of a method at a demo count, over its training seeds."""
    k = n = 0
    for g in groups.values():
        if g.get("key") == key and g.get("demos") == demos:
            k += g["success"]["k"]
            n += g["success"]["n"]
    return k, n


def compare(a: tuple[int, int], b: tuple[int, int]) -> dict[str, float]:
    """Success difference (points) and its two-sided Fisher exact p, as ``tandem eval compare``."""
    (ka, na), (kb, nb) = a, b
    ra, rb = (ka / na if na else 0.0), (kb / nb if nb else 0.0)
    return {"delta_pts": 100 * (ra - rb), "p": fisher_exact(ka, na, kb, nb)}
