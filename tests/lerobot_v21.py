"""A reader of LeRobot v2.1 datasets written from the published format only (LeRobot's v2.1 dataset docs
and GR00T's modality.json), not from Tandem's writer: the tests read what `tandem collect` writes with it.

(LeRobot itself reads v2.1 only up to lerobot 0.3.x, which pins torch < 2.8; it does not install here.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq


class LeRobotV21:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.info = json.loads((self.root / "meta" / "info.json").read_text())
        assert self.info["codebase_version"] == "v2.1"
        self.fps = self.info["fps"]
        self.features = self.info["features"]
        self.episodes = [
            json.loads(x) for x in (self.root / "meta" / "episodes.jsonl").read_text().splitlines()
        ]
        self.tasks = {
            t["task_index"]: t["task"]
            for t in map(json.loads, (self.root / "meta" / "tasks.jsonl").read_text().splitlines())
        }
        self.modality = json.loads((self.root / "meta" / "modality.json").read_text())
        self.video_keys = [k for k, f in self.features.items() if f["dtype"] == "video"]

    def _chunk(self, ep: int) -> int:
        return ep // self.info["chunks_size"]

    def table(self, ep: int) -> dict[str, np.ndarray]:
        path = self.root / self.info["data_path"].format(episode_chunk=self._chunk(ep), episode_index=ep)
        table = pq.read_table(path)
        out = {}
        for name in table.column_names:
            col = table.column(name).combine_chunks()
            if hasattr(col, "values"):  # a vector feature: a (fixed-size) list per row
                out[name] = col.values.to_numpy().reshape(len(col), -1)
            else:
                out[name] = col.to_numpy(zero_copy_only=False)
        return out

    def frames(self, ep: int, key: str) -> np.ndarray:
        import imageio.v3 as iio

        path = self.root / self.info["video_path"].format(
            episode_chunk=self._chunk(ep), video_key=key, episode_index=ep
        )
        return np.stack(list(iio.imiter(path, plugin="FFMPEG")))  # imageio-ffmpeg, not the writer's PyAV

    def item(self, ep: int, frame: int) -> dict:
        """One training sample as LeRobotDataset.__getitem__ gives it: the row plus each camera's frame at its
        timestamp and the task text."""
        row = {k: v[frame] for k, v in self.table(ep).items()}
        for key in self.video_keys:
            row[key] = self.frames(ep, key)[round(float(row["timestamp"]) * self.fps)]
        row["task"] = self.tasks[int(row["task_index"])]
        return row
