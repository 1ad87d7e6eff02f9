"""The layout and features of a Tandem dataset: LeRobot v2.1 plus GR00T's meta/modality.json.

/work/wt/DATASET-CONTRACT.md (docs/datasets.md) is the published form of this; readers are written from
that page, not from this module.
"""

from __future__ import annotations

from typing import Any

from eval.datasets.layout import DatasetLayout

CODEBASE_VERSION = "v2.1"
CHUNKS_SIZE = 1000
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
META = "meta"
INFO = "meta/info.json"
EPISODES = "meta/episodes.jsonl"
TASKS = "meta/tasks.jsonl"
EPISODES_STATS = "meta/episodes_stats.jsonl"
MODALITY = "meta/modality.json"

STATE = "observation.state"
ACTION = "action"
BASE_VELOCITY = "action.base_velocity"
IMAGE_PREFIX = "observation.images."
VIDEO_CODEC = "h264"
PIX_FMT = "yuv420p"


def image_key(camera: str) -> str:
    return IMAGE_PREFIX + camera


def data_file(episode_index: int) -> str:
    return DATA_PATH.format(episode_chunk=episode_index // CHUNKS_SIZE, episode_index=episode_index)


def video_file(episode_index: int, key: str) -> str:
    return VIDEO_PATH.format(
        episode_chunk=episode_index // CHUNKS_SIZE, video_key=key, episode_index=episode_index
    )


def features(
    layout: DatasetLayout, cameras: list[str], image_size: int, fps: int
) -> dict[str, dict[str, Any]]:
    """info.json's features: dtype, shape, names (and video info for the cameras)."""
    names = layout.joint_names
    out: dict[str, dict[str, Any]] = {
        STATE: {"dtype": "float32", "shape": [layout.dim], "names": names},
        ACTION: {"dtype": "float32", "shape": [layout.dim], "names": names},
    }
    if layout.base_velocity:
        out[BASE_VELOCITY] = {"dtype": "float32", "shape": [3], "names": ["vx", "vy", "yaw_rate"]}
    for cam in cameras:
        out[image_key(cam)] = {
            "dtype": "video",
            "shape": [image_size, image_size, 3],
            "names": ["height", "width", "channel"],
            "info": {
                "video.fps": float(fps),
                "video.height": image_size,
                "video.width": image_size,
                "video.channels": 3,
                "video.codec": VIDEO_CODEC,
                "video.pix_fmt": PIX_FMT,
                "video.is_depth_map": False,
                "has_audio": False,
            },
        }
    out["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
    for k in ("frame_index", "episode_index", "index", "task_index"):
        out[k] = {"dtype": "int64", "shape": [1], "names": None}
    out["next.done"] = {"dtype": "bool", "shape": [1], "names": None}
    return out


def modality(layout: DatasetLayout, cameras: list[str]) -> dict[str, Any]:
    """GR00T's meta/modality.json: the state and action split into the robot's joint groups."""
    groups = {name: {"start": a, "end": b} for name, (a, b) in layout.ranges.items()}
    return {
        "state": groups,
        "action": {k: dict(v) for k, v in groups.items()},
        "video": {cam: {"original_key": image_key(cam)} for cam in cameras},
        "annotation": {"human.task_description": {"original_key": "task_index"}},
    }


def info(features_: dict[str, Any], fps: int, robot_type: str) -> dict[str, Any]:
    """info.json of an empty dataset; the writer fills in the totals."""
    return {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot_type,
        "total_episodes": 0,
        "total_frames": 0,
        "total_tasks": 0,
        "total_videos": 0,
        "total_chunks": 0,
        "chunks_size": CHUNKS_SIZE,
        "fps": fps,
        "splits": {},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH,
        "features": features_,
    }


def video_keys(features_: dict[str, Any]) -> list[str]:
    return [k for k, f in features_.items() if f.get("dtype") == "video"]
