"""Run records: one folder per run under ``runs/``, an append-only JSONL event log and a summary.

Written as events happen (flushed per line), so a crashed or killed run keeps everything up to the
crash: the record is what tests, the REPL and eval reports read afterwards.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np


def runs_root() -> Path:
    return Path(os.environ.get("TANDEM_RUNS_DIR", "runs"))


def new_run_id(prefix: str = "run") -> str:
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


class RunRecord:
    def __init__(self, run_id: str | None = None, root: Path | None = None) -> None:
        self.run_id = run_id or new_run_id()
        self.dir = (root or runs_root()) / self.run_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self._events = (self.dir / "events.jsonl").open("a", encoding="utf-8")

    def event(self, kind: str, /, **data: Any) -> None:
        line = json.dumps({"kind": kind, "wall_time": round(time.time(), 3), **data}, default=_plain)
        self._events.write(line + "\n")
        self._events.flush()

    def write_summary(self, summary: dict[str, Any]) -> Path:
        path = self.dir / "summary.json"
        path.write_text(json.dumps(summary, indent=2, default=_plain))
        return path

    def close(self) -> None:
        self._events.close()


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
