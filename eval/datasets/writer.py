"""Write a dataset one episode at a time, atomically; reopen an interrupted one and carry on.

An episode is committed in this order: its parquet file and videos are renamed into place, then its stats,
task and episode lines are appended to meta/*.jsonl (the episodes.jsonl line is the commit point), then
meta/info.json is rewritten (temp file + rename). Reopening a dataset keeps exactly the episodes whose
episodes.jsonl line is whole: a torn last line, stats of uncommitted episodes and files of episodes that
never reached episodes.jsonl are removed, and info.json is recomputed. Nothing committed is ever rewritten.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eval.datasets import format as fmt
from eval.datasets.layout import DatasetLayout

TMP = ".tmp"  # scratch space inside the dataset (same filesystem, so renames are atomic)


class DatasetError(ValueError):
    """A dataset that cannot be written or read as asked; the message names the file and key."""


@dataclass
class EpisodeData:
    """One recorded episode, ready to commit; videos are finished MP4 files under the dataset's .tmp/."""

    instruction: str
    state: np.ndarray  # (T, D): D joints of the layout (43 on the G1)
    action: np.ndarray  # (T, D)
    base_velocity: np.ndarray | None  # (T, 3); None when the layout records no base
    videos: dict[str, Path]  # feature key -> mp4
    image_stats: dict[str, dict[str, Any]]
    extras: dict[str, Any] = field(default_factory=dict)  # task_name, seed, success, perturbations, ...

    @property
    def length(self) -> int:
        return len(self.state)


def _stats(x: np.ndarray) -> dict[str, Any]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    return {
        "min": x.min(0).tolist(),
        "max": x.max(0).tolist(),
        "mean": x.mean(0).tolist(),
        "std": x.std(0).tolist(),
        "count": [len(x)],
    }


def image_stats(frames: np.ndarray) -> dict[str, Any]:
    """LeRobot's per-channel image stats, (3, 1, 1) nested lists of values in [0, 1]."""
    x = frames.reshape(-1, 3).astype(np.float64) / 255.0

    def per_channel(v: np.ndarray) -> list:
        return [[[float(c)]] for c in v]

    return {
        "min": per_channel(x.min(0)),
        "max": per_channel(x.max(0)),
        "mean": per_channel(x.mean(0)),
        "std": per_channel(x.std(0)),
        "count": [len(frames)],
    }


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """Whole, parseable lines of a JSONL file, and whether anything else (a torn tail) was found."""
    if not path.exists():
        return [], False
    out, torn = [], False
    text = path.read_text()
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        last = i == len(lines) - 1  # no newline after it: the write was cut off
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            torn = True
            continue
        if last:
            torn = True
            continue
        out.append(obj)
    return out, torn


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_line(path: Path, obj: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(obj) + "\n")
        f.flush()
        os.fsync(f.fileno())


class DatasetWriter:
    """Creates ``root`` (or reopens it, recovering from an interruption) and commits episodes to it."""

    def __init__(
        self, root: str | Path, layout: DatasetLayout, fps: int, cameras: list[str], image_size: int
    ) -> None:
        self.root = Path(root)
        self.fps = fps
        self.layout = layout
        self.features = fmt.features(layout, cameras, image_size, fps)
        self.cameras = cameras
        self.tmp = self.root / TMP
        info_path = self.root / fmt.INFO
        if info_path.exists():
            self._check_compatible(json.loads(info_path.read_text()))
        (self.root / fmt.META).mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(exist_ok=True)
        self._recover()
        if not (self.root / fmt.MODALITY).exists():
            modality = json.dumps(fmt.modality(layout, cameras), indent=2) + "\n"
            _write_atomic(self.root / fmt.MODALITY, modality)
        self._write_info()

    # ----------------------------------------------------------------- open / recover
    def _check_compatible(self, info: dict[str, Any]) -> None:
        where = self.root / fmt.INFO
        if info.get("robot_type") != self.layout.robot_type:
            raise DatasetError(
                f"{where}: robot_type is {info.get('robot_type')!r}, this collection records "
                f"{self.layout.robot_type!r}; write a new dataset for another robot"
            )
        if info.get("fps") != self.fps:
            raise DatasetError(f"{where}: fps is {info.get('fps')}, this collection records at {self.fps}")
        if info.get("features") != self.features:
            have, want = set(info.get("features", {})), set(self.features)
            diff = sorted(have ^ want) or [k for k in want if info["features"].get(k) != self.features[k]]
            raise DatasetError(
                f"{where}: features differ from this collection's ({', '.join(diff)}); "
                "append only with the same cameras and --image-size, or write a new dataset"
            )

    def _recover(self) -> None:
        meta = self.root / fmt.META
        episodes, torn = read_jsonl(meta / "episodes.jsonl")
        # Indices must run 0..n-1; anything past a gap was never committed in order.
        kept = []
        for e in episodes:
            if e.get("episode_index") != len(kept):
                torn = True
                break
            kept.append(e)
        self.episodes = kept
        if torn:
            _write_atomic(meta / "episodes.jsonl", "".join(json.dumps(e) + "\n" for e in kept))
        n = len(kept)
        stats, torn_s = read_jsonl(meta / "episodes_stats.jsonl")
        good = [s for s in stats if s.get("episode_index", n) < n]
        seen = {s["episode_index"] for s in good}
        good = [s for s in good if s["episode_index"] in seen]
        if torn_s or len(good) != len(stats):
            _write_atomic(meta / "episodes_stats.jsonl", "".join(json.dumps(s) + "\n" for s in good))
        tasks, torn_t = read_jsonl(meta / "tasks.jsonl")
        tasks = [t for i, t in enumerate(tasks) if t.get("task_index") == i]
        if torn_t:
            _write_atomic(meta / "tasks.jsonl", "".join(json.dumps(t) + "\n" for t in tasks))
        self.tasks = {t["task"]: t["task_index"] for t in tasks}
        for e in kept:  # a committed episode's task is always there; be safe with hand-edited files
            for text in e.get("tasks", []):
                if text not in self.tasks:
                    raise DatasetError(
                        f"{meta / 'tasks.jsonl'}: no task_index for '{text}' of episode {e['episode_index']}"
                    )
        for sub in ("data", "videos"):
            for path in (self.root / sub).rglob("episode_*.*") if (self.root / sub).exists() else []:
                if int(path.stem.split("_")[-1]) >= n:
                    path.unlink()
        self.total_frames = sum(e["length"] for e in kept)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(exist_ok=True)

    # ----------------------------------------------------------------- commit
    def add_episode(self, ep: EpisodeData) -> int:
        """Commit one episode; returns its episode_index."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        index = len(self.episodes)
        n = ep.length
        if n == 0:
            raise DatasetError("an episode needs at least one frame")
        task_index = self.tasks.get(ep.instruction)
        new_task = task_index is None
        if task_index is None:
            task_index = len(self.tasks)
        frame_index = np.arange(n, dtype=np.int64)
        dim = self.layout.dim
        if ep.state.shape != (n, dim) or ep.action.shape != (n, dim):
            raise DatasetError(
                f"episode state {list(ep.state.shape)} and action {list(ep.action.shape)} must both be "
                f"[{n}, {dim}] ({self.layout.robot_type} layout)"
            )
        columns = {fmt.STATE: ep.state.astype(np.float32), fmt.ACTION: ep.action.astype(np.float32)}
        if self.layout.base_velocity:
            if ep.base_velocity is None:
                raise DatasetError(f"the {self.layout.robot_type} layout records a base velocity; got none")
            columns[fmt.BASE_VELOCITY] = ep.base_velocity.astype(np.float32)
        columns |= {
            "timestamp": (frame_index / self.fps).astype(np.float32),
            "frame_index": frame_index,
            "episode_index": np.full(n, index, np.int64),
            "index": self.total_frames + frame_index,
            "task_index": np.full(n, task_index, np.int64),
            "next.done": frame_index == n - 1,
        }

        def arrow(v: np.ndarray) -> pa.Array:
            if v.ndim == 2:
                return pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), v.shape[1])
            return pa.array(v)

        table = pa.table({k: arrow(v) for k, v in columns.items()})
        data_path = self.root / fmt.data_file(index)
        data_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"episode_{index:06d}.parquet"
        pq.write_table(table, tmp)
        missing = set(fmt.video_keys(self.features)) - set(ep.videos)
        if missing:
            raise DatasetError(f"episode has no video for {sorted(missing)}")
        os.replace(tmp, data_path)
        for key, src in ep.videos.items():
            dst = self.root / fmt.video_file(index, key)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)

        meta = self.root / fmt.META
        if new_task:
            append_line(meta / "tasks.jsonl", {"task_index": task_index, "task": ep.instruction})
            self.tasks[ep.instruction] = task_index
        stats = {k: _stats(v) for k, v in columns.items()}
        stats.update(ep.image_stats)
        append_line(meta / "episodes_stats.jsonl", {"episode_index": index, "stats": stats})
        record = {"episode_index": index, "tasks": [ep.instruction], "length": n, **ep.extras}
        append_line(meta / "episodes.jsonl", record)
        self.episodes.append(record)
        self.total_frames += n
        self._write_info()
        return index

    def _write_info(self) -> None:
        n = len(self.episodes)
        info = fmt.info(self.features, self.fps, self.layout.robot_type)
        info.update(
            total_episodes=n,
            total_frames=self.total_frames,
            total_tasks=len(self.tasks),
            total_videos=n * len(fmt.video_keys(self.features)),
            total_chunks=math.ceil(n / fmt.CHUNKS_SIZE),
            splits={"train": f"0:{n}"},
        )
        _write_atomic(self.root / fmt.INFO, json.dumps(info, indent=2) + "\n")

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
