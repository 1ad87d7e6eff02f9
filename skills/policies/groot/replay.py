"""ReplayPolicy: answers ``get_action`` with recorded actions, as GR00T's own ReplayPolicy does.

It reads a LeRobot v2.1 dataset from the published layout (meta/info.json, meta/episodes.jsonl,
meta/modality.json, one parquet file per episode), not from Tandem's writer. Each request returns the
next ``horizon`` recorded actions from the current step (the last one repeated past the end) and moves
the step on by ``execution_horizon``, the actions a client executes per chunk; ``reset`` goes back to the
start (options ``episode_index`` and ``step_index`` choose where).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from skills.policies.groot.protocol import DEFAULT_LANGUAGE_KEY, Request, ServerSpec
from skills.policies.groot.wire import Version


class DatasetError(ValueError):
    """The dataset lacks what replay needs; the message names the file and the key."""


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise DatasetError(f"{path}: missing (a LeRobot v2.1 dataset with GR00T's meta/modality.json)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not JSON: {e}") from None


def _slices(modality: dict, section: str, path: Path) -> dict[str, tuple[int, int]]:
    groups = modality.get(section)
    if not isinstance(groups, dict) or not groups:
        raise DatasetError(f"{path}: no '{section}' groups")
    out = {}
    for k, v in groups.items():
        if not (isinstance(v, dict) and isinstance(v.get("start"), int) and isinstance(v.get("end"), int)):
            raise DatasetError(f"{path}: {section}.{k} needs integer 'start' and 'end'")
        out[k] = (v["start"], v["end"])
    return out


class ReplayPolicy:
    """Args:
    root: the dataset folder.
    version: the wire version to serve.
    execution_horizon: steps the replay moves on per request (the client's k).
    horizon: actions per chunk.
    episode: the episode replayed first.
    """

    def __init__(
        self,
        root: str | Path,
        version: Version,
        execution_horizon: int = 8,
        horizon: int = 16,
        episode: int = 0,
    ) -> None:
        self.root = Path(root)
        if not (self.root / "meta").is_dir():
            raise DatasetError(f"{self.root}: not a LeRobot dataset (no meta/ folder)")
        info = _read_json(self.root / "meta" / "info.json")
        if info.get("codebase_version") != "v2.1":
            raise DatasetError(
                f"{self.root / 'meta/info.json'}: codebase_version is {info.get('codebase_version')!r}, "
                "expected 'v2.1'"
            )
        mpath = self.root / "meta" / "modality.json"
        modality = _read_json(mpath)
        self.state_slices = _slices(modality, "state", mpath)
        self.action_slices = _slices(modality, "action", mpath)
        self.video_keys = list((modality.get("video") or {}).keys())
        ann = list((modality.get("annotation") or {}).keys())
        self.fps = float(info.get("fps", 20))
        self.data_path = str(info.get("data_path", ""))
        self.chunks_size = int(info.get("chunks_size", 1000))
        episodes = [
            json.loads(x) for x in (self.root / "meta" / "episodes.jsonl").read_text().splitlines() if x
        ]
        self.episodes = {int(e["episode_index"]): e for e in episodes}
        if not self.episodes:
            raise DatasetError(f"{self.root / 'meta/episodes.jsonl'}: no episodes")
        if execution_horizon > horizon:
            raise ValueError(f"execution horizon {execution_horizon} exceeds the chunk length {horizon}")
        self.execution_horizon, self.horizon = execution_horizon, horizon
        self.spec = ServerSpec(
            version=version,
            video_keys=self.video_keys,
            state_keys=list(self.state_slices),
            action_keys=list(self.action_slices),
            language_key=f"annotation.{ann[0]}" if ann else DEFAULT_LANGUAGE_KEY,
            action_horizon=horizon,
        )
        self.state_dims = {k: b - a for k, (a, b) in self.state_slices.items()}
        self._load(episode)

    def _load(self, episode: int) -> None:
        import pyarrow.parquet as pq

        if episode not in self.episodes:
            raise DatasetError(
                f"{self.root}: no episode {episode} (episodes: {min(self.episodes)}..{max(self.episodes)})"
            )
        rel = self.data_path.format(episode_chunk=episode // self.chunks_size, episode_index=episode)
        path = self.root / rel
        if not path.is_file():
            raise DatasetError(f"{path}: missing (info.json data_path {self.data_path!r})")
        table = pq.read_table(path)
        if "action" not in table.column_names:
            raise DatasetError(f"{path}: no 'action' column (columns: {', '.join(table.column_names)})")
        actions = np.asarray(table.column("action").to_pylist(), dtype=np.float32)
        width = max(b for _, b in self.action_slices.values())
        if actions.ndim != 2 or actions.shape[1] < width:
            raise DatasetError(f"{path}: 'action' is {actions.shape}, modality.json needs width {width}")
        self.episode, self.actions, self.step = episode, actions, 0
        self.instruction = (self.episodes[episode].get("tasks") or [""])[0]

    def reset(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        options = options or {}
        if "episode_index" in options and int(options["episode_index"]) != self.episode:
            self._load(int(options["episode_index"]))
        self.step = int(options.get("step_index", 0))
        return {"episode_index": self.episode, "episode_length": len(self.actions), "current_step": self.step}

    def get_action(self, request: Request) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        n = len(self.actions)
        idx = np.minimum(np.arange(self.step, self.step + self.horizon), n - 1)
        rows = self.actions[idx]
        chunk = {
            k: np.repeat(rows[None, :, a:b], request.batch, axis=0)
            for k, (a, b) in self.action_slices.items()
        }
        info = {"current_step": self.step, "episode_length": n, "episode_index": self.episode}
        self.step += self.execution_horizon
        return chunk, info
