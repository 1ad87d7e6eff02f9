"""``tandem dataset check``: validate a dataset against the LeRobot v2.1 layout and GR00T's modality.json.

Every problem names the file and the key; an empty list means the dataset is sound.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from eval.datasets import format as fmt
from eval.datasets.reader import Dataset
from eval.datasets.writer import DatasetError

INFO_KEYS = (
    "codebase_version", "robot_type", "total_episodes", "total_frames", "total_tasks", "total_videos",
    "total_chunks", "chunks_size", "fps", "splits", "data_path", "video_path", "features",
)  # fmt: skip
_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}


def check(root: str | Path, videos: bool = True, progress: Callable[[int], None] | None = None) -> list[str]:
    """Problems found in the dataset at ``root`` (``videos=False`` skips opening the MP4 files)."""
    try:
        ds = Dataset.open(root)
    except DatasetError as e:
        return [str(e)]
    p: list[str] = []
    info_f = ds.root / fmt.INFO
    for k in INFO_KEYS:
        if k not in ds.info:
            p.append(f"{info_f}: missing key '{k}'")
    if p:
        return p
    if ds.info["codebase_version"] != fmt.CODEBASE_VERSION:
        p.append(f"{info_f}: codebase_version is {ds.info['codebase_version']!r}, expected 'v2.1'")
    fps = ds.info["fps"]
    if not isinstance(fps, int) or fps <= 0:
        p.append(f"{info_f}: fps must be a positive integer, got {fps!r}")
        return p
    for key, f in ds.features.items():
        for field in ("dtype", "shape", "names"):
            if field not in f:
                p.append(f"{info_f}: features.{key} has no '{field}'")
    n = len(ds.episodes)
    total = sum(e.get("length", 0) for e in ds.episodes)
    expect = {
        "total_episodes": n,
        "total_frames": total,
        "total_tasks": len(ds.tasks),
        "total_videos": n * len(ds.video_keys),
    }
    for k, v in expect.items():
        if ds.info[k] != v:
            p.append(f"{info_f}: {k} is {ds.info[k]}, the files hold {v}")
    p += _check_modality(ds)
    tasks = {t.get("task_index"): t.get("task") for t in ds.tasks}
    if sorted(tasks) != list(range(len(tasks))):
        p.append(f"{ds.root / fmt.TASKS}: task_index values are not 0..{len(tasks) - 1}")
    stats = {s.get("episode_index") for s in ds.stats}
    global_index = 0
    for i, ep in enumerate(ds.episodes):
        where = f"{ds.root / fmt.EPISODES} line {i + 1}"
        if ep.get("episode_index") != i:
            p.append(f"{where}: episode_index is {ep.get('episode_index')}, expected {i}")
            continue
        for k in ("tasks", "length"):
            if k not in ep:
                p.append(f"{where}: missing '{k}'")
        if i not in stats:
            p.append(f"{ds.root / fmt.EPISODES_STATS}: no stats for episode {i}")
        p += _check_episode(ds, i, ep, tasks, global_index, videos)
        global_index += ep.get("length", 0)
        if progress:
            progress(i)
    return p


def _check_modality(ds: Dataset) -> list[str]:
    where = ds.root / fmt.MODALITY
    m = ds.modality
    if m is None:
        return [f"{where}: missing (GR00T reads the state/action layout from it)"]
    p = []
    for part, key in (("state", fmt.STATE), ("action", fmt.ACTION)):
        groups = m.get(part)
        feat = ds.features.get(key)
        if not isinstance(groups, dict) or feat is None:
            p.append(f"{where}: no '{part}' section, or info.json has no feature '{key}'")
            continue
        dim = feat["shape"][0]
        spans = sorted(
            (g.get("start", -1), g.get("end", -1), name)
            for name, g in groups.items()
            if g.get("original_key", key) == key
        )
        at = 0
        for start, end, name in spans:
            if start != at or end <= start:
                p.append(f"{where}: {part}.{name} is [{start}, {end}), expected to start at {at}")
            at = max(at, end)
        if at != dim:
            p.append(f"{where}: {part} groups end at {at}, {key} has {dim} dims")
    listed = {v.get("original_key") for v in (m.get("video") or {}).values()}
    for key in ds.video_keys:
        if key not in listed:
            p.append(f"{where}: video feature '{key}' is not listed under 'video'")
    for name, v in (m.get("video") or {}).items():
        if v.get("original_key") not in ds.video_keys:
            p.append(f"{where}: video.{name}.original_key {v.get('original_key')!r} is not a video feature")
    for name, a in (m.get("annotation") or {}).items():
        if a.get("original_key") not in ds.features:
            p.append(f"{where}: annotation.{name}.original_key {a.get('original_key')!r} is not a feature")
    return p


def _check_episode(ds: Dataset, i: int, ep: dict, tasks: dict, global_index: int, videos: bool) -> list[str]:
    path = ds.data_path(i)
    try:
        cols = ds.columns(i)
    except DatasetError as e:
        return [str(e)]
    except Exception as e:  # a torn or foreign parquet file
        return [f"{path}: unreadable: {e}"]
    p = []
    length = ep.get("length", 0)
    for key, f in ds.features.items():
        if f["dtype"] == "video":
            continue
        if key not in cols:
            p.append(f"{path}: missing column '{key}'")
            continue
        v = cols[key]
        want = tuple(f["shape"])
        got = v.shape[1:] if v.ndim > 1 else (1,)
        if got != want:
            p.append(f"{path}: column '{key}' has shape {list(got)} per frame, info.json says {list(want)}")
        if f["dtype"] in _DTYPES and v.dtype != _DTYPES[f["dtype"]]:
            p.append(f"{path}: column '{key}' is {v.dtype}, info.json says {f['dtype']}")
        if len(v) != length:
            p.append(f"{path}: column '{key}' has {len(v)} rows, episodes.jsonl says length {length}")
    if p:
        return p
    fi, ts = cols["frame_index"], cols["timestamp"]
    if not np.array_equal(fi, np.arange(length)):
        p.append(f"{path}: frame_index is not 0..{length - 1}")
    if length > 1 and not np.all(np.diff(ts) > 0):
        p.append(f"{path}: timestamp is not strictly increasing")
    if not np.allclose(ts, fi / ds.fps, atol=1e-4):
        p.append(f"{path}: timestamp differs from frame_index / fps ({ds.fps})")
    if not np.all(cols["episode_index"] == i):
        p.append(f"{path}: episode_index column is not {i} throughout")
    if not np.array_equal(cols["index"], global_index + np.arange(length)):
        p.append(f"{path}: index does not continue the previous episode's ({global_index}..)")
    done = cols["next.done"]
    if length and (not done[-1] or done[:-1].any()):
        p.append(f"{path}: next.done must be true on the last frame only")
    for t in np.unique(cols["task_index"]):
        if int(t) not in tasks:
            p.append(f"{path}: task_index {int(t)} is not in tasks.jsonl")
        elif tasks[int(t)] not in ep.get("tasks", []):
            p.append(f"{path}: task_index {int(t)} ({tasks[int(t)]!r}) is not among the episode's tasks")
    for key in ds.video_keys:
        vp = ds.video_path(i, key)
        if not vp.exists():
            p.append(f"{vp}: missing video of '{key}'")
            continue
        if not videos:
            continue
        from eval.datasets.video import probe

        try:
            v = probe(vp)
        except Exception as e:
            p.append(f"{vp}: unreadable video: {e}")
            continue
        h, w, _ = ds.features[key]["shape"]
        if v["frames"] != length:
            p.append(f"{vp}: {v['frames']} frames, the episode has {length}")
        if (v["height"], v["width"]) != (h, w):
            p.append(f"{vp}: {v['width']}x{v['height']}, info.json says {w}x{h}")
        if v["fps"] is not None and abs(v["fps"] - ds.fps) > 1e-3:
            p.append(f"{vp}: {v['fps']} fps, info.json says {ds.fps}")
    return p
