"""A tiny LeRobot v2.1 dataset written from the published layout (DATASET-CONTRACT in docs/vla.md).

It stands in for ``tandem collect`` output where a test is about learning, not about the expert: each
episode's camera shows a bright square whose position sets where the right arm goes, and the instruction
picks which of two joints moves, so a policy must read both the image and the language to fit it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from envs.robots.g1.g1_constants import STATE_RANGES

FPS = 20
STATE_DIM = 43
RIGHT_ARM = slice(29, 36)
TASKS = ("move the red block to the yellow zone", "wave the right hand")
GROUPS = STATE_RANGES


def episode_arrays(index: int, length: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(states, actions, frames, task_index) of one synthetic episode."""
    rng = np.random.default_rng(index)
    task = index % len(TASKS)
    # Episodes of the same task alternate between the image's left and right so their motions differ.
    px = (0.15 if (index // 2) % 2 == 0 else 0.8) + rng.uniform(0, 0.05)
    py = rng.uniform(0.2, 0.8)
    rest = np.zeros(STATE_DIM, np.float32)
    rest[0:12] = np.tile([-0.3, 0.0, 0.0, 0.6, -0.3, 0.0], 2)  # stance legs, never moving
    goal = rest.copy()
    joint = 29 if task == 0 else 32  # shoulder pitch for the block, elbow for the wave
    goal[joint] = -1.0 + 1.5 * px
    goal[joint + 1] = -0.5 + 1.0 * py
    frac = np.minimum(1.0, (np.arange(length) + 1) / (0.6 * length))[:, None]
    actions = (rest + (goal - rest) * frac).astype(np.float32)
    states = np.concatenate([rest[None], actions[:-1]]).astype(np.float32)
    frames = np.full((length, size, size, 3), 40, np.uint8)
    s = max(2, size // 6)
    x0, y0 = int(px * (size - s)), int(py * (size - s))
    frames[:, y0 : y0 + s, x0 : x0 + s] = (230, 40, 40)
    return states, actions, frames, task


def write_video(path: Path, frames: np.ndarray, fps: int = FPS) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def write_dataset(
    root: Path,
    episodes: int = 4,
    length: int = 24,
    size: int = 32,
    robot_type: str = "unitree_g1",
    drop_feature: str | None = None,
    offset: float = 0.0,
) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = root / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    features = {
        "observation.state": {"dtype": "float32", "shape": [STATE_DIM], "names": None},
        "action": {"dtype": "float32", "shape": [STATE_DIM], "names": None},
        "action.base_velocity": {"dtype": "float32", "shape": [3], "names": ["vx", "vy", "yaw_rate"]},
        "observation.images.ego_view": {
            "dtype": "video",
            "shape": [size, size, 3],
            "names": ["height", "width", "channel"],
        },
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None},
        "next.done": {"dtype": "bool", "shape": [1], "names": None},
    }
    if drop_feature:
        features.pop(drop_feature)
    info = {
        "codebase_version": "v2.1",
        "robot_type": robot_type,
        "fps": FPS,
        "total_episodes": episodes,
        "total_frames": episodes * length,
        "total_tasks": len(TASKS),
        "total_videos": episodes,
        "total_chunks": 1,
        "chunks_size": 1000,
        "splits": {"train": f"0:{episodes}"},
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
        "features": features,
    }
    (meta / "info.json").write_text(json.dumps(info, indent=2))
    (meta / "tasks.jsonl").write_text(
        "".join(json.dumps({"task_index": i, "task": t}) + "\n" for i, t in enumerate(TASKS))
    )
    (meta / "modality.json").write_text(
        json.dumps(
            {
                "state": {g: {"start": a, "end": b} for g, (a, b) in GROUPS.items()},
                "action": {g: {"start": a, "end": b} for g, (a, b) in GROUPS.items()},
                "video": {"ego_view": {"original_key": "observation.images.ego_view"}},
                "annotation": {"human.task_description": {"original_key": "task_index"}},
            }
        )
    )
    rows = []
    for e in range(episodes):
        states, actions, frames, task = episode_arrays(e, length, size)
        states, actions = states + np.float32(offset), actions + np.float32(offset)
        n = len(states)
        table = pa.table(
            {
                "observation.state": pa.array(list(states), pa.list_(pa.float32())),
                "action": pa.array(list(actions), pa.list_(pa.float32())),
                "action.base_velocity": pa.array([np.zeros(3, np.float32)] * n, pa.list_(pa.float32())),
                "timestamp": pa.array(np.arange(n, dtype=np.float32) / FPS),
                "frame_index": pa.array(np.arange(n, dtype=np.int64)),
                "episode_index": pa.array(np.full(n, e, np.int64)),
                "index": pa.array(np.arange(n, dtype=np.int64) + e * length),
                "task_index": pa.array(np.full(n, task, np.int64)),
                "next.done": pa.array(np.arange(n) == n - 1),
            }
        )
        path = root / "data" / "chunk-000" / f"episode_{e:06d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        write_video(
            root / "videos" / "chunk-000" / "observation.images.ego_view" / f"episode_{e:06d}.mp4", frames
        )
        rows.append(
            {
                "episode_index": e,
                "tasks": [TASKS[task]],
                "length": n,
                "task_name": f"task{task}",
                "seed": e,
                "success": True,
            }
        )
    (meta / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root
