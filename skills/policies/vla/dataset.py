"""A reader for the LeRobot v2.1 datasets ``tandem collect`` writes (see docs/vla.md for the layout).

Written from the published layout (meta/info.json, meta/episodes.jsonl, meta/tasks.jsonl, parquet per
episode via pyarrow, H.264 MP4 per episode and camera via PyAV), not from the writer's code. The whole
selection is decoded into memory once, frames already at the encoder's resolution, so a training step
is a gather of tensors.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, ValidationError

from skills.policies.vla.configuration_vla import VLAConfig
from skills.policies.vla.processor_vla import EmbodimentStats, FeatureStats, resize_frames

STATE, ACTION = "observation.state", "action"


class DatasetError(ValueError):
    """A dataset that does not have what training needs; the message names the file and the key."""


class Feature(BaseModel):
    model_config = ConfigDict(extra="allow")
    dtype: str
    shape: list[int]


class Info(BaseModel):
    model_config = ConfigDict(extra="allow")
    codebase_version: str
    robot_type: str
    fps: float
    chunks_size: int = 1000
    data_path: str
    video_path: str | None = None
    features: dict[str, Feature]


@dataclass
class Episode:
    index: int
    instruction: str
    task_name: str
    length: int
    locomotion: str | None = None  # what the G1 stood on while it was recorded (None: not said)


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise DatasetError(f"{path}: missing (a LeRobot v2.1 dataset has meta/{path.name})")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DatasetError(f"{path}:{n}: not JSON: {e}") from None
    return rows


def read_info(root: Path) -> Info:
    path = root / "meta" / "info.json"
    if not path.is_file():
        raise DatasetError(f"{root}: not a LeRobot dataset (no meta/info.json)")
    try:
        info = Info.model_validate(json.loads(path.read_text()))
    except (ValidationError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path}: {e}") from None
    if info.codebase_version != "v2.1":
        raise DatasetError(f"{path}: codebase_version is {info.codebase_version!r}, expected 'v2.1'")
    return info


def read_episodes(root: Path, tasks: list[str] | None = None) -> list[Episode]:
    """The episodes, optionally only those of the given tasks (task names or instruction texts)."""
    out = []
    for row in _jsonl(root / "meta" / "episodes.jsonl"):
        try:
            ep = Episode(
                index=int(row["episode_index"]),
                instruction=str(row["tasks"][0]),
                task_name=str(row.get("task_name", row["tasks"][0])),
                length=int(row["length"]),
                locomotion=row.get("locomotion"),
            )
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise DatasetError(
                f"{root / 'meta' / 'episodes.jsonl'}: episode row {row}: bad or missing {e}"
            ) from None
        if row.get("success", True) is False:
            continue  # kept failures (collect --keep-failures) are no demonstrations
        if not tasks or ep.task_name in tasks or ep.instruction in tasks:
            out.append(ep)
    if not out:
        wanted = f" of tasks {', '.join(tasks)}" if tasks else ""
        raise DatasetError(f"{root}: no successful episodes{wanted}")
    return out


def decode_video(path: Path) -> np.ndarray:
    """All frames of an MP4 as uint8 (N, H, W, 3)."""
    import av

    if not path.is_file():
        raise DatasetError(f"{path}: video missing")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    if not frames:
        raise DatasetError(f"{path}: no frames")
    return np.stack(frames)


class DemoDataset:
    """Demonstrations in memory: frames (N, 3, R, R) uint8, states (N, S), actions (N, A), the
    instruction of each frame, and for each frame the indices of its action chunk (N, chunk), the last
    action repeated past the end of an episode (as GR00T pads)."""

    def __init__(
        self,
        root: str | Path,
        config: VLAConfig,
        tasks: list[str] | None = None,
        max_episodes: int | None = None,
        progress=None,
        select: slice | None = None,
    ) -> None:

        self.root = root = Path(root)
        info = read_info(root)
        self.info = info
        self.embodiment = info.robot_type
        for key in (STATE, ACTION, config.camera):
            if key not in info.features:
                raise DatasetError(
                    f"{root / 'meta' / 'info.json'}: features has no '{key}' "
                    f"(it has: {', '.join(sorted(info.features))})"
                )
        if info.video_path is None:
            raise DatasetError(f"{root / 'meta' / 'info.json'}: no video_path for camera {config.camera}")
        if abs(info.fps - config.fps) > 1e-6:
            raise DatasetError(
                f"{root}: recorded at {info.fps} fps; the model's chunks are at {config.fps} fps"
            )
        spec = config.embodiment(self.embodiment)
        for key, dim in ((STATE, spec.state_dim), (ACTION, spec.action_dim)):
            got = info.features[key].shape
            if got != [dim]:
                raise DatasetError(
                    f"{root}: '{key}' has shape {got}; embodiment '{self.embodiment}' needs [{dim}]"
                )
        cam_shape = info.features[config.camera].shape
        want = [*config.image_size, 3]
        if cam_shape[:2] != want[:2] and cam_shape[-2:] != want[:2]:
            raise DatasetError(
                f"{root}: camera {config.camera} records {cam_shape}; the model takes {want} (image_size)"
            )
        self.episodes = read_episodes(root, tasks)[:max_episodes][select or slice(None)]
        if not self.episodes:
            raise DatasetError(f"{root}: no episodes left in this selection")
        self.instructions = sorted({e.instruction for e in self.episodes})
        recorded = {e.locomotion for e in self.episodes}
        # What every episode was recorded on, if they agree and say so: a policy's runs default to it.
        self.locomotion = recorded.pop() if len(recorded) == 1 else None
        states, actions, frames, instr, chunk_idx, starts = [], [], [], [], [], []
        offset = 0
        # Decoding dominates loading (PyAV and torch release the GIL): episodes load on threads, in order.
        workers = min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(workers) as pool:
            loaded = pool.map(lambda ep: self._load_episode(ep, config), self.episodes)
            for n, (ep, (s, a, f)) in enumerate(zip(self.episodes, loaded, strict=True)):
                frames.append(f)
                states.append(s)
                actions.append(a)
                instr += [ep.instruction] * len(s)
                t = np.arange(len(s))
                chunk_idx.append(offset + np.minimum(t[:, None] + np.arange(config.chunk)[None], len(s) - 1))
                starts.append(offset)
                offset += len(s)
                if progress is not None:
                    progress(n + 1, len(self.episodes))
        self.frames = torch.cat(frames)
        self.states = np.concatenate(states)
        self.actions = np.concatenate(actions)
        self.chunk_index = np.concatenate(chunk_idx)
        self.episode_start = np.asarray(starts)
        self.frame_instruction = np.asarray([self.instructions.index(i) for i in instr])

    def _load_episode(self, ep, config: VLAConfig) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
        """One episode's states, actions and frames at the encoder's resolution, checked."""
        import pyarrow.parquet as pq

        root, info = self.root, self.info
        chunk_no = ep.index // info.chunks_size
        path = root / info.data_path.format(episode_chunk=chunk_no, episode_index=ep.index)
        if not path.is_file():
            raise DatasetError(f"{path}: episode {ep.index} data missing")
        table = pq.read_table(path)
        for key in (STATE, ACTION):
            if key not in table.column_names:
                raise DatasetError(f"{path}: no column '{key}' (columns: {', '.join(table.column_names)})")
        s = np.asarray(table.column(STATE).to_pylist(), np.float32)
        a = np.asarray(table.column(ACTION).to_pylist(), np.float32)
        video = root / info.video_path.format(
            episode_chunk=chunk_no, video_key=config.camera, episode_index=ep.index
        )
        f = decode_video(video)
        if f.shape[1:] != (*config.image_size, 3):
            want = (*config.image_size, 3)
            raise DatasetError(f"{video}: frames are {f.shape[1:]}; the model takes {want}")
        if not (len(s) == len(a) == len(f)):
            raise DatasetError(f"{path}: {len(s)} states, {len(a)} actions but {len(f)} video frames")
        return s, a, resize_frames(config, torch.from_numpy(f))

    def __len__(self) -> int:
        return len(self.states)

    def stats(self) -> EmbodimentStats:
        return EmbodimentStats(
            state=FeatureStats.of(self.states), action=FeatureStats.of(self.actions), source=str(self.root)
        )
