"""What several test files do the same way: run the CLI in a subprocess, record one demonstration, serve
it over GR00T's protocol, and the tiny VLA config the CPU tests train."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def cli(*args: str) -> list[str]:
    """``tandem ARGS`` as a subprocess command line."""
    return [sys.executable, "-m", "agent.cli.main", *args]


def collect_one(out: Path, task: str, seed: int, fps: int, size: int, camera: str) -> Path:
    """One successful demonstration of ``task`` at ``seed``, recorded by ``tandem collect`` into ``out``."""
    cmd = cli("collect", task, "--episodes", "1", "--seed", str(seed), "--fps", str(fps))
    cmd += ["--image-size", str(size), "--cameras", camera, "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, env=os.environ | {"PYTHONPATH": os.getcwd()})
    episode = json.loads((out / "meta/episodes.jsonl").read_text().splitlines()[0])
    assert episode["success"] and episode["seed"] == seed
    return out


@contextmanager
def replay_server(dataset: Path, version: str) -> Iterator[str]:
    """``tandem groot serve --replay DATASET`` on a free port; yields its ``groot://`` URL."""
    cmd = cli("groot", "serve", "--replay", str(dataset), "--port", "0", "--host", "127.0.0.1")
    server = subprocess.Popen([*cmd, "--version", version], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # printed once the socket is bound
        assert f"GR00T {version} server on tcp://127.0.0.1:" in line, line
        port = int(line.split("tcp://127.0.0.1:")[1].split(":")[0])
        yield f"groot://127.0.0.1:{port}?version={version}&timeout=60"
    finally:
        server.terminate()
        server.wait(timeout=10)


def tiny_so100_model(size: int, **extra: Any) -> dict[str, Any]:
    """A VLA small enough to train in seconds on the CPU, for the SO-100 alone (6-D, the front camera)."""
    return {
        "image_size": [size, size],
        "vision_resolution": size,
        "vision_channels": [8, 16],
        "hidden": 32,
        "heads": 2,
        "vl_layers": 0,
        "dit_layers": 1,
        "mlp_ratio": 2.0,
        "camera": "observation.images.front",
        "embodiments": {"so100": {"state_dim": 6, "action_dim": 6}},
        **extra,
    }
