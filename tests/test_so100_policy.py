"""A policy drives the SO-100 arm closed loop: the arm has no skill library, so the policy runs the whole
task (agent/task_run.py), judged from the physics and recorded like a planned run.

- Against ``tandem groot serve --replay`` of a demonstration ``tandem collect`` recorded, the block task
  succeeds in the simulator: the recorded actions travel through GR00T's real protocol (both wire
  versions) into the arm, and the eval worker's record says so.
- ``tandem diagnose`` runs the prompt- and position-sensitivity diagnostics on a Tandem VLA trained on
  SO-100 demonstrations, on the SO-100's own tasks, and prints its numbers and verdict.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fakes.groot_server import FakeGrootServer
from helpers import collect_one, replay_server, tiny_so100_model
from typer.testing import CliRunner

SEED = 5
FPS = 30  # the SO-100 GR00T mapping's action rate (skills/policies/groot/embodiments/so100.yaml)
SIZE = 32


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return collect_one(
        tmp_path_factory.mktemp("so100_collect") / "block", "so100_block", SEED, FPS, SIZE, "front"
    )


@pytest.mark.parametrize("version", ["n1.5", "n1.6"])
def test_block_task_through_the_replay_server_on_the_so100(dataset, tmp_path, version):
    from eval.experiments.episodes import episode
    from eval.runner import execute
    from eval.trajectory import load_trajectory
    from skills.tasks import load_task

    with replay_server(dataset, version) as url:
        task = load_task("so100_block")
        result = execute(episode("so100", task, task, SEED, url, 300.0).to_dict(), str(tmp_path))
    assert result["status"] == "ok", result.get("error")
    assert result["success"], result["metrics"]["checks"]
    run = tmp_path / result["run_id"]
    summary = json.loads((run / "summary.json").read_text())
    block = summary["final_world"]["objects"]["red_block"]
    assert block["in_zone"] == "yellow_zone" and block["held_by"] is None  # measured in the simulator
    events = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()]
    outcome = next(e for e in events if e["kind"] == "outcome")
    policy = outcome["evidence"]["policy"]  # latency per chunk, in the run record
    assert policy["chunks"] > 3 and len(policy["chunk_latency_ms"]) == policy["chunks"]
    tr = load_trajectory(run)
    assert tr is not None and [str(e) for e in tr["effectors"]] == ["gripper"]
    assert tr["q"].shape[1] == 6 and (tr["held"][:, 0] == 0).any()  # the jaws held the block on the way


def test_a_bad_reply_ends_the_arms_run_with_a_policy_error_in_its_record(tmp_path):
    """A server whose chunks have the wrong shape: the whole-task run ends at once, recorded as a failed
    call that names the key and the shapes; the episode itself completes (nothing crashes)."""
    from eval.experiments.episodes import episode
    from eval.runner import execute
    from skills.tasks import load_task

    arm = {"single_arm": 5, "gripper": 1}
    with FakeGrootServer(state=arm, video=("front", "wrist"), fault="wrong_shape") as server:
        task = load_task("so100_block")
        url = f"{server.url}?version=n1.6&timeout=30"
        result = execute(episode("so100", task, task, SEED, url, 120.0).to_dict(), str(tmp_path))
    assert result["status"] == "ok" and result["success"] is False, result.get("error")
    events = [json.loads(x) for x in (tmp_path / result["run_id"] / "events.jsonl").read_text().splitlines()]
    outcome = next(e for e in events if e["kind"] == "outcome")
    assert outcome["status"] == "failure" and outcome["reason"].startswith("policy_error: ")
    assert "shape" in outcome["reason"] and outcome["sim_time_s"] < 5  # ended at the reply, not at max_sim_s


@pytest.fixture(scope="module")
def so100_vla(dataset, tmp_path_factory) -> Path:
    """A small VLA for the SO-100 alone, trained briefly: diagnose measures whatever it does."""
    from skills.policies.vla.train import TrainConfig, Trainer

    model = tiny_so100_model(SIZE, fps=FPS)
    out = tmp_path_factory.mktemp("so100_vla") / "vla"
    cfg = TrainConfig(
        dataset=dataset, out=out, method="scratch", steps=10, batch=8, device="cpu", model=model
    )
    trainer = Trainer(cfg, log=lambda msg: None)
    trainer.load_data()
    trainer.run()
    return out


def _short(name: str, folder: Path, sim_s: float) -> Path:
    """A shipped SO-100 task cut to ``sim_s`` of simulated time (a barely trained policy never ends early)."""
    import yaml

    from skills.tasks.schema import TASKS_DIR

    task = yaml.safe_load((TASKS_DIR / f"{name}.yaml").read_text())
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**task, "max_sim_s": sim_s}))
    return path


def test_diagnose_runs_a_policy_on_the_so100_and_gives_a_verdict(so100_vla, tmp_path):
    from agent.cli.main import app
    from eval.experiments.diagnose import default_tasks

    assert default_tasks("so100_block") == ("so100_block", "so100_lift")  # the SO-100's own task pair
    task, probe = _short("so100_block", tmp_path, 3.0), _short("so100_lift", tmp_path, 3.0)
    out = tmp_path / "diag"
    args = ["diagnose", str(so100_vla), "--task", str(task), "--probe", str(probe), "--seeds", "3"]
    r = CliRunner().invoke(app, [*args, "--out", str(out), "--json", "--no-progress"])
    assert r.exit_code in (0, 1), r.output  # 0: ok, 1: a finding; never a crash or bad input
    report = json.loads(r.output[r.output.index("{") :])
    m = report["measured"]
    assert m["episodes"] == 6 and m["errors"] == 0 and m["probe_n"] == 3
    assert m["rollouts"] == 3  # every reference episode left a trajectory of the arm
    assert report["verdict"] and all(isinstance(v, str) for v in report["verdict"])
    traj = np.load(next((out / "runs").glob("*/trajectory.npz")))
    assert traj["q"].shape[1] == 6 and traj["hands"].shape[1:] == (1, 3)
    assert np.isfinite(traj["hands"]).all()  # the jaw site is tracked, not NaN
    assert 2.5 <= traj["t"][-1] - traj["t"][0] <= 3.5  # ran the task's own length of simulated time


def test_diagnose_refuses_a_g1_task_on_the_so100_arm(tmp_path):
    from agent.cli.main import app

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    args = [
        "diagnose",
        str(ckpt),
        "--scene",
        "so100_block",
        "--task",
        "block_to_zone",
        "--probe",
        "so100_lift",
    ]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2
    assert "--task 'block_to_zone' is not a task of scene so100_block" in r.output
