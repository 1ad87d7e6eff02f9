"""SO-100 demonstrations: `tandem collect so100_block` (one of the tasks `--scene so100_block` collects)
records the arm's scripted IK expert as a LeRobot v2.1 dataset in GR00T's SO-100 layout (single_arm 5 +
gripper 1, cameras front and wrist) that `tandem dataset check` accepts, an independent reader reads, and
open-loop replay re-succeeds on.

Small on purpose (CPU, ~30 s): two episodes (seeds 0 and 1) at 32 px, 20 fps, on one worker.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from helpers import tiny_so100_model
from lerobot_v21 import LeRobotV21

SIZE, FPS = 32, 20
SO100_GROUPS = {"single_arm": {"start": 0, "end": 5}, "gripper": {"start": 5, "end": 6}}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from agent.cli.main import app

    out = tmp_path_factory.mktemp("so100") / "demo"
    args = ["collect", "so100_block", "--episodes", "2", "--out", str(out)]
    r = CliRunner().invoke(app, [*args, "--image-size", str(SIZE), "--fps", str(FPS)])
    assert r.exit_code == 0, r.output
    assert "so100_block: 2 kept, 2/2 succeeded" in r.output
    return out


def test_dataset_passes_check_with_the_so100_layout(dataset):
    from agent.cli.main import app
    from eval.datasets.check import check

    assert check(dataset) == []
    r = CliRunner().invoke(app, ["dataset", "check", str(dataset)])
    assert r.exit_code == 0 and "ok" in r.output, r.output
    d = LeRobotV21(dataset)
    assert d.info["robot_type"] == "so100" and d.info["total_episodes"] == 2
    assert d.modality["state"] == SO100_GROUPS and d.modality["action"] == SO100_GROUPS
    assert d.modality["video"] == {
        "front": {"original_key": "observation.images.front"},
        "wrist": {"original_key": "observation.images.wrist"},
    }
    assert d.modality["annotation"]["human.task_description"]["original_key"] == "task_index"
    feats = d.features
    assert feats["observation.state"]["shape"] == [6] and feats["action"]["shape"] == [6]
    assert feats["observation.state"]["names"] == [
        "Rotation",
        "Pitch",
        "Elbow",
        "Wrist_Pitch",
        "Wrist_Roll",
        "Jaw",
    ]
    assert "action.base_velocity" not in feats  # a fixed arm has no base to command
    info = CliRunner().invoke(app, ["dataset", "info", str(dataset), "--json"])
    s = json.loads(info.output)
    assert s["episodes"] == 2 and s["successes"] == 2 and s["videos"] == d.video_keys
    assert s["stats"]["observation.state"]["shape"] == [6] and s["image_size"] == f"{SIZE}x{SIZE}"
    assert s["robot_type"] == "so100" and s["modality"]["action"] == {"single_arm": [0, 5], "gripper": [5, 6]}
    text = CliRunner().invoke(app, ["dataset", "info", str(dataset)]).output
    assert "so100" in text and "state groups (modality.json): single_arm 0:5, gripper 5:6" in text


def test_episodes_read_back_independently_and_vary_with_the_seed(dataset):
    d = LeRobotV21(dataset)
    assert [e["seed"] for e in d.episodes] == [0, 1]
    for ep in d.episodes:
        i, n = ep["episode_index"], ep["length"]
        t = d.table(i)
        assert t["observation.state"].shape == (n, 6) and t["observation.state"].dtype == np.float32
        assert t["action"].shape == (n, 6)
        assert np.allclose(t["timestamp"], np.arange(n) / FPS, atol=1e-5)
        for cam in ("front", "wrist"):
            frames = d.frames(i, f"observation.images.{cam}")
            assert frames.shape == (n, SIZE, SIZE, 3) and frames.std() > 5
        # The recorded motion is a pick and place: the jaw opens, closes on the block, opens again.
        jaw = t["action"][:, 5]
        closed = np.flatnonzero(jaw < 0)
        assert closed.size and jaw[: closed[0]].max() > 0.5 and jaw[closed[-1] + 1 :].max() > 0.5
        assert ep["success"] is True and "red_block in zone yellow_zone" in ep["reason"]
    a, b = (e["perturbations"]["object_poses"] for e in d.episodes)
    assert a["red_block"] != b["red_block"]
    assert d.item(1, 10)["task"] == "move the red block to the yellow zone"


def test_open_loop_replay_re_succeeds(dataset):
    """The recorded actions, held per frame in a fresh env at the recorded rate, put the block in the zone
    again: the physics, not the recorder, decides."""
    from eval.datasets.reader import Dataset
    from eval.datasets.replay import replay

    ds = Dataset.open(dataset)
    r = replay(ds, 0)
    assert r.recorded_success and r.success, r
    # Held 50 ms steps instead of the expert's per-tick ramp: the arm stays within ~0.03 rad of the recorded
    # states, the jaw (closing on the block) within ~0.08.
    assert r.max_state_error < 0.1


def test_layout_is_the_envs_embodiment():
    """The dataset layout of each env lists its embodiment's joint groups in state order."""
    from envs.registry import make_scene
    from eval.datasets.layout import layout_for_scene

    env = make_scene("so100_block", seed=0)
    layout = layout_for_scene("so100_block")
    emb = env.embodiment
    assert list(layout.groups) == sorted(emb.groups, key=lambda g: emb.groups[g].state_index[0])
    for name, joints in layout.groups.items():
        assert emb.groups[name].joints == joints
        assert list(emb.groups[name].state_index) == list(range(*layout.ranges[name]))
    assert set(layout.cameras) <= set(env.cameras) and layout.dim == emb.state_dim
    env.close()


def test_mixed_robots_and_foreign_cameras_are_refused(dataset, tmp_path):
    from agent.cli.main import app

    r = CliRunner().invoke(app, ["collect", "so100_block", "block_to_zone", "--out", str(tmp_path / "d")])
    assert r.exit_code == 2 and "record different robots" in r.output, r.output
    r = CliRunner().invoke(
        app, ["collect", "so100_block", "--cameras", "ego_view", "--out", str(tmp_path / "d")]
    )
    assert r.exit_code == 2 and "so100 cameras: front, wrist" in r.output, r.output
    r = CliRunner().invoke(app, ["collect", "block_to_zone", "--out", str(dataset), "--cameras", "ego_view"])
    assert r.exit_code == 2 and "robot_type is 'so100'" in r.output, r.output
    r = CliRunner().invoke(app, ["collect", "--scene", "nowhere", "--out", str(tmp_path / "d")])
    assert r.exit_code == 2 and "no shipped task uses scene 'nowhere'" in r.output, r.output


def test_split_keeps_the_layout(dataset, tmp_path):
    from eval.datasets.check import check
    from eval.datasets.edit import split

    n_train, n_test = split(dataset, tmp_path / "train", tmp_path / "test", episodes=[1])
    assert (n_train, n_test) == (1, 1)
    for part in ("train", "test"):
        assert check(tmp_path / part, videos=False) == []
        assert json.loads((tmp_path / part / "meta/modality.json").read_text())["state"] == SO100_GROUPS


def test_expert_task_files_are_validated(tmp_path):
    from skills.tasks import TaskError, load_task

    ok = "{predicate: object_in_zone, params: {object: red_block, zone: yellow_zone}}"
    cases = [
        (
            f"scene: g1_lab\nexpert: so100_block\nsuccess: [{ok}]",
            "scene: expert 'so100_block' runs on so100_block",
        ),
        (
            f"scene: so100_block\nexpert: nope\nsuccess: [{ok}]",
            "expert: unknown expert 'nope'; experts: so100_block",
        ),
        (f"scene: so100_block\nsuccess: [{ok}]", "calls: the expert needs at least one skill call"),
        (
            f"scene: so100_block\nexpert: so100_block\ncalls: [{{skill: wait, args: {{}}}}]\nsuccess: [{ok}]",
            "calls: give skill calls or expert 'so100_block', not both",
        ),
        (
            "scene: so100_block\nexpert: so100_block\nsuccess: [{predicate: object_in_zone, params: "
            "{object: blue_block, zone: yellow_zone}}]",
            "success.0.params.object: 'blue_block' is not an object of scene 'so100_block'",
        ),
    ]
    for body, message in cases:
        bad = tmp_path / "so100_bad.yaml"
        bad.write_text(f"instruction: move it\n{body}\n")
        with pytest.raises(TaskError) as e:
            load_task(bad)
        text = str(e.value)
        assert "so100_bad.yaml: invalid task" in text and message in text and text.count("\n") == 1, text


def test_the_vla_trains_on_the_so100_layout_and_predicts_6d_chunks(dataset, tmp_path):
    """The Tandem VLA's per-embodiment projections: a model for the SO-100 alone (6-D state and action,
    the front camera) trains on the collected set, and its checkpoint predicts (chunk, 6) joint targets."""
    from skills.policies.vla.policy import VLAPolicy
    from skills.policies.vla.train import TrainConfig, Trainer

    model = tiny_so100_model(SIZE)
    out = tmp_path / "so100_vla"
    cfg = TrainConfig(
        dataset=dataset, out=out, method="scratch", steps=30, batch=8, device="cpu", model=model
    )
    trainer = Trainer(cfg, log=lambda msg: None)
    trainer.load_data()
    summary = trainer.run()
    assert summary["final_loss"] < summary["first_loss"]
    policy = VLAPolicy.load(out)
    reader = LeRobotV21(dataset)
    frame = reader.frames(0, "observation.images.front")[:1]
    state = reader.table(0)["observation.state"][:1].astype(np.float32)
    chunk = policy.predict(frame, state, [reader.tasks[0]], embodiment="so100")
    assert chunk.shape == (1, policy.config.chunk, 6) and np.isfinite(chunk).all()
    with pytest.raises(ValueError, match="unitree_g1"):
        policy.predict(frame, np.zeros((1, 43), np.float32), ["x"], embodiment="unitree_g1")
