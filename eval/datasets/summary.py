"""What ``tandem dataset info`` prints: counts, tasks, success and per-key stats over all frames."""

from __future__ import annotations

from typing import Any

import numpy as np

from eval.datasets.reader import Dataset


def _merge(stats: list[dict[str, Any]]) -> dict[str, float]:
    """Overall min/max/mean/std of one key from per-episode stats (pooled over every dimension)."""
    n = np.array([s["count"][0] for s in stats], float)
    mean = np.array([np.mean(s["mean"]) for s in stats])
    var = np.array([np.mean(np.square(s["std"])) + np.var(s["mean"]) for s in stats])
    total = n.sum()
    m = float((n * mean).sum() / total)
    v = float((n * (var + (mean - m) ** 2)).sum() / total)
    return {
        "min": float(min(np.min(s["min"]) for s in stats)),
        "max": float(max(np.max(s["max"]) for s in stats)),
        "mean": m,
        "std": v**0.5,
    }


def summarize(ds: Dataset) -> dict[str, Any]:
    eps = ds.episodes
    by_task: dict[int, dict[str, Any]] = {
        t["task_index"]: {"task_index": t["task_index"], "task": t["task"], "episodes": 0, "successes": 0}
        for t in ds.tasks
    }
    index = {t["task"]: t["task_index"] for t in ds.tasks}
    for e in eps:
        for text in e.get("tasks", []):
            row = by_task.get(index.get(text, -1))
            if row is not None:
                row["episodes"] += 1
                row["successes"] += bool(e.get("success", True))
    stats: dict[str, Any] = {}
    for key, f in ds.features.items():
        per = [s["stats"][key] for s in ds.stats if key in s.get("stats", {})]
        if per and f["dtype"] != "video":
            stats[key] = {"shape": f["shape"], **_merge(per)}
    frames = sum(e["length"] for e in eps)
    video = ds.video_keys
    return {
        "codebase_version": ds.info.get("codebase_version"),
        "robot_type": ds.info.get("robot_type"),
        "modality": {
            part: {
                g: [v.get("start"), v.get("end")] for g, v in ((ds.modality or {}).get(part) or {}).items()
            }
            for part in ("state", "action")
        },
        "episodes": len(eps),
        "frames": frames,
        "fps": ds.fps,
        "duration_s": frames / ds.fps,
        "successes": sum(bool(e.get("success", True)) for e in eps),
        "videos": video,
        "image_size": "x".join(str(x) for x in ds.features[video[0]]["shape"][:2]) if video else "-",
        "tasks": list(by_task.values()),
        "task_names": sorted({e.get("task_name", "?") for e in eps}),
        "stats": stats,
    }
