"""Open a dataset for ``tandem dataset``: its meta files, an episode's columns, its videos."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.datasets import format as fmt
from eval.datasets.writer import DatasetError, _read_jsonl


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path}: missing (is this a LeRobot v2.1 dataset folder?)") from None
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON: {e}") from None


@dataclass
class Dataset:
    root: Path
    info: dict[str, Any]
    episodes: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    stats: list[dict[str, Any]]
    modality: dict[str, Any] | None

    @classmethod
    def open(cls, root: str | Path) -> Dataset:
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"{root}: no such dataset folder")
        info = _load_json(root / fmt.INFO)
        modality = _load_json(root / fmt.MODALITY) if (root / fmt.MODALITY).exists() else None
        return cls(
            root=root,
            info=info,
            episodes=_read_jsonl(root / fmt.EPISODES)[0],
            tasks=_read_jsonl(root / fmt.TASKS)[0],
            stats=_read_jsonl(root / fmt.EPISODES_STATS)[0],
            modality=modality,
        )

    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    @property
    def features(self) -> dict[str, Any]:
        return self.info["features"]

    @property
    def video_keys(self) -> list[str]:
        return fmt.video_keys(self.features)

    def data_path(self, episode: int) -> Path:
        chunk = episode // int(self.info.get("chunks_size", fmt.CHUNKS_SIZE))
        return self.root / self.info["data_path"].format(episode_chunk=chunk, episode_index=episode)

    def video_path(self, episode: int, key: str) -> Path:
        chunk = episode // int(self.info.get("chunks_size", fmt.CHUNKS_SIZE))
        return self.root / self.info["video_path"].format(
            episode_chunk=chunk, video_key=key, episode_index=episode
        )

    def episode(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.episodes):
            raise DatasetError(f"{self.root}: no episode {index} (the dataset has {len(self.episodes)})")
        return self.episodes[index]

    def columns(self, episode: int) -> dict[str, np.ndarray]:
        """An episode's parquet columns as numpy arrays ((T, D) for vector features)."""
        import pyarrow.parquet as pq

        path = self.data_path(episode)
        if not path.exists():
            raise DatasetError(f"{path}: missing data file of episode {episode}")
        table = pq.read_table(path)
        out = {}
        for name in table.column_names:
            col = table.column(name).combine_chunks()
            if _is_list(col.type):
                out[name] = np.stack(col.to_numpy(zero_copy_only=False)) if len(col) else np.zeros((0, 0))
            else:
                out[name] = col.to_numpy(zero_copy_only=False)
        return out

    def task_text(self, task_index: int) -> str:
        for t in self.tasks:
            if t["task_index"] == task_index:
                return t["task"]
        raise DatasetError(f"{self.root / fmt.TASKS}: no task_index {task_index}")


def _is_list(t) -> bool:
    import pyarrow as pa

    return pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t)
