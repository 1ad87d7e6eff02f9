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


def plain(value: Any) -> Any:
    """``json.dumps`` default for numpy arrays and scalars."""
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
        line = json.dumps({"kind": kind, "wall_time": round(time.time(), 3), **data}, default=plain)
        self._events.write(line + "\n")
        self._events.flush()

    def write_summary(self, summary: dict[str, Any]) -> Path:
        path = self.dir / "summary.json"
        path.write_text(json.dumps(summary, indent=2, default=plain))
        return path

    def close(self) -> None:
        self._events.close()


# Statuses of a run that can go on (``--resume``, an approval); any other status is its end.
OPEN = frozenset({"running", "aborted", "awaiting_approval"})


def finished(summary: dict[str, Any] | None) -> bool:
    return summary is not None and summary.get("status") not in OPEN


def is_run(path: Path) -> bool:
    """A run record (not another folder under runs/, such as the chat's scene renders)."""
    return path.is_dir() and (path / "events.jsonl").exists()


def find_run(run_id: str, root: Path | None = None) -> str:
    """The full id of the run that ``run_id`` names exactly or as a unique prefix."""
    root = root or runs_root()
    if is_run(root / run_id):
        return run_id
    matches = sorted(p.name for p in root.glob(f"{run_id}*") if is_run(p)) if run_id else []
    if not matches:
        raise FileNotFoundError(f"no run '{run_id}' under {root} (`tandem runs` lists them)")
    if len(matches) > 1:
        raise ValueError(
            f"'{run_id}' names {len(matches)} runs ({', '.join(matches[:3])}, ...): give more of the id"
        )
    return matches[0]


def run_state(run_dir: Path) -> str:
    """What a run's record says about it: its summary's status, ``aborted at start-up`` (killed before
    its first checkpoint) or ``unfinished`` (killed or still running; ``--resume`` continues it)."""
    summary = read_summary(run_dir)
    if summary is not None:
        return str(summary.get("status", "?"))
    events = read_events(run_dir)
    started = any(e["kind"] == "node" for e in events)
    pids = [e["pid"] for e in events if e["kind"] == "process"]
    if pids and _alive(pids[-1]):
        return "running" if started else "starting"
    return "unfinished" if started else "aborted at start-up"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / "summary.json"
    return json.loads(path.read_text()) if path.exists() else None


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "events.jsonl"
    # The last line of a killed process may be cut short: everything before it is kept.
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
