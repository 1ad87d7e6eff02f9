"""Demonstration datasets: `tandem collect` records the expert as LeRobot v2.1 that an independent reader
reads, `tandem dataset check` accepts, and open-loop replay re-succeeds on; seeds vary and reproduce;
an interrupted collection resumes; bad tasks fail at load; wrist cameras see the hand move.

Small on purpose (CPU, ~a minute): 32 px ego images at 20 fps, three short block episodes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import itertools

from lerobot_v21 import LeRobotV21

SIZE, FPS = 32, 20
ARGS = ["--image-size", str(SIZE), "--fps", str(FPS), "--cameras", "ego_view"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """block_to_zone seeds 0 and 1, block_to_zone_left seed 0, collected by the CLI on one worker."""
    from agent.cli.main import app

    out = tmp_path_factory.mktemp("ds") / "demo"
    for task, n in (("block_to_zone", 2), ("block_to_zone_left", 1)):
        r = CliRunner().invoke(app, ["collect", task, "--episodes", str(n), "--out", str(out), *ARGS])
        assert r.exit_code == 0, r.output
    return out


def test_dataset_passes_check_and_reads_back_independently(dataset):
    from eval.datasets.check import check

    assert check(dataset) == []
    d = LeRobotV21(dataset)
    assert d.fps == FPS and len(d.episodes) == 3 and d.info["total_episodes"] == 3
    assert sorted(d.tasks.values()) == [
        "move the blue block to the green zone",
        "move the red block to the yellow zone",
    ]
    total = 0
    for ep in d.episodes:
        i, n = ep["episode_index"], ep["length"]
        t = d.table(i)
        assert t["observation.state"].shape == (n, 43) and t["observation.state"].dtype == np.float32
        assert t["action"].shape == (n, 43) and t["action.base_velocity"].shape == (n, 3)
        assert np.allclose(t["timestamp"], np.arange(n) / FPS, atol=1e-5)
        assert list(t["index"]) == list(range(total, total + n)) and t["next.done"].sum() == 1
        assert d.frames(i, "observation.images.ego_view").shape == (n, SIZE, SIZE, 3)
        assert ep["success"] is True and {"seed", "task_name", "perturbations"} <= set(ep)
        total += n
    sample = d.item(0, 5)
    assert sample["task"] == "move the red block to the yellow zone"
    assert sample["observation.images.ego_view"].std() > 5  # a real picture, not a blank frame
    # GR00T's modality.json: the groups tile the 43-D state and action exactly, in the G1 layout.
    for part in ("state", "action"):
        spans = sorted((g["start"], g["end"]) for g in d.modality[part].values())
        assert spans[0][0] == 0 and spans[-1][1] == 43
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert d.modality["state"]["right_arm"] == {"start": 29, "end": 36}
    assert d.modality["video"]["ego_view"]["original_key"] == "observation.images.ego_view"
    assert d.modality["annotation"]["human.task_description"]["original_key"] == "task_index"


def test_open_loop_replay_re_succeeds(dataset):
    """The recorded actions, held per frame at the recorded rate, redo the task in a fresh env."""
    from eval.datasets.reader import Dataset
    from eval.datasets.replay import replay

    ds = Dataset.open(dataset)
    for i in (0, 2):
        r = replay(ds, i)
        assert r.success, r


def test_collected_on_legs_records_it_and_replays_on_legs(dataset, tmp_path):
    """`--locomotion walker` records the demonstration on a free-standing G1: the episode says so, its
    ankles balanced it (the gliding ones' legs stand still) and open-loop replay re-succeeds on legs."""
    from agent.cli.main import app
    from eval.datasets.reader import Dataset
    from eval.datasets.replay import replay

    out = tmp_path / "legs"
    args = ["collect", "block_to_zone", "--episodes", "1", "--out", str(out), "--locomotion", "walker"]
    r = CliRunner().invoke(app, [*args, *ARGS])
    assert r.exit_code == 0, r.output
    legs, glided = Dataset.open(out), Dataset.open(dataset)
    assert legs.episode(0)["locomotion"] == "walker" and glided.episode(0)["locomotion"] == "holonomic"
    ankles = [i for i, n in enumerate(legs.features["observation.state"]["names"]) if "ankle" in n]
    assert np.ptp(legs.columns(0)["observation.state"][:, ankles], axis=0).min() > 0.01
    assert np.ptp(glided.columns(0)["observation.state"][:, ankles], axis=0).max() < 1e-3
    assert replay(legs, 0).success
    bad = CliRunner().invoke(app, ["collect", "block_to_zone", "--out", str(out), "--locomotion", "legs"])
    assert bad.exit_code == 2 and "--locomotion: locomotion must be 'holonomic' or 'walker" in bad.output


def test_seeds_vary_the_episode(dataset):
    d = LeRobotV21(dataset)
    a, b = d.episodes[0], d.episodes[1]
    assert (a["seed"], b["seed"]) == (0, 1)
    pa, pb = a["perturbations"], b["perturbations"]
    assert pa["object_poses"]["red_block"] != pb["object_poses"]["red_block"]
    assert pa["expert"] != pb["expert"]
    n = min(a["length"], b["length"])
    assert np.abs(d.table(0)["action"][:n] - d.table(1)["action"][:n]).max() > 0.05


def test_interrupted_collection_resumes_and_reproduces_seeds(dataset, tmp_path):
    """Kill the collection (parent and worker) after its first episode; the dataset still checks, and the
    same command finishes it. Episodes of the same seed equal the first dataset's, bit for bit."""
    from eval.datasets.check import check

    out = tmp_path / "resumed"
    cmd = [
        sys.executable,
        "-m",
        "agent.cli.main",
        "collect",
        "block_to_zone",
        "--episodes",
        "2",
        "--out",
        str(out),
        *ARGS,
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
    workers = []
    for line in proc.stdout:
        if line.startswith("worker "):
            workers.append(int(line.split()[1]))
        if line.startswith("episode block_to_zone seed 0") and "kept" in line:
            break
    else:
        pytest.fail(f"collection ended before its first episode (exit {proc.wait()})")
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and its worker, mid-way through seed 1
    proc.wait()
    assert check(out) == [] and len(LeRobotV21(out).episodes) == 1

    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert check(out) == []
    got, ref = LeRobotV21(out), LeRobotV21(dataset)
    assert [e["seed"] for e in got.episodes] == [0, 1]
    for i in (0, 1):
        assert got.episodes[i]["perturbations"] == ref.episodes[i]["perturbations"]
        for key in ("observation.state", "action", "action.base_velocity"):
            assert np.array_equal(got.table(i)[key], ref.table(i)[key]), key


def test_split_and_merge_make_valid_datasets(dataset, tmp_path):
    from eval.datasets.check import check
    from eval.datasets.edit import merge, split

    n_train, n_test = split(dataset, tmp_path / "train", tmp_path / "test", tasks=["block_to_zone_left"])
    assert (n_train, n_test) == (2, 1)
    assert check(tmp_path / "train") == [] and check(tmp_path / "test") == []
    assert {e["task_name"] for e in LeRobotV21(tmp_path / "test").episodes} == {"block_to_zone_left"}
    assert merge([tmp_path / "train", tmp_path / "test"], tmp_path / "all") == 3
    assert check(tmp_path / "all") == []


def test_check_names_the_file_and_key_of_a_problem(dataset, tmp_path):
    import json
    import shutil

    from eval.datasets.check import check

    bad = tmp_path / "bad"
    shutil.copytree(dataset, bad)
    modality = json.loads((bad / "meta/modality.json").read_text())
    modality["state"]["right_hand"]["end"] = 42
    (bad / "meta/modality.json").write_text(json.dumps(modality))
    (bad / "videos/chunk-000/observation.images.ego_view/episode_000001.mp4").unlink()
    problems = "\n".join(check(bad))
    assert "modality.json: state groups end at 42, observation.state has 43 dims" in problems
    assert "episode_000001.mp4: missing video of 'observation.images.ego_view'" in problems


def test_bad_task_file_and_unknown_task_fail_at_load(tmp_path):
    from agent.cli.main import app
    from skills.tasks import TaskError, load_task

    bad = tmp_path / "oops.yaml"
    bad.write_text(
        "instruction: move it\nscene: g1_lab\n"
        "calls:\n  - {skill: pick, args: {object: red_block, hand: middle}}\n"
        "success:\n  - {predicate: object_in_zone, params: {object: red_block, zone: yellow_zone}}\n"
    )
    with pytest.raises(TaskError, match=r"oops.yaml: invalid task\n  calls.0.args: hand"):
        load_task(bad)
    bad.write_text("instruction: move it\ncalls: []\nsuccess: [{predicate: nope}]\n")
    with pytest.raises(TaskError) as e:
        load_task(bad)
    assert (
        "oops.yaml" in str(e.value) and "calls" in str(e.value) and "unknown predicate 'nope'" in str(e.value)
    )
    r = CliRunner().invoke(app, ["collect", "no_such_task", "--out", str(tmp_path / "d")])
    assert r.exit_code == 2 and "unknown task 'no_such_task'" in r.output and "block_to_zone" in r.output


def test_shipped_tasks_load():
    from skills.tasks import all_tasks

    tasks = {t.name: t for t in all_tasks()}
    assert len(tasks) >= 8 and "block_to_zone" in tasks
    hands = {c.args.get("hand") for t in tasks.values() for c in t.calls}
    assert hands == {"left", "right"} and any(c.skill == "pour" for t in tasks.values() for c in t.calls)


def test_wrist_cameras_see_the_hand_move(lab):
    assert set(lab.embodiment.cameras) == {"ego_view", "left_wrist", "right_wrist"}
    before = {cam: lab.render(cam, 64, 64) for cam in ("left_wrist", "right_wrist")}
    for frame in before.values():
        assert frame.std() > 10 and len(np.unique(frame.reshape(-1, 3), axis=0)) > 30
    arm = lab.embodiment.groups["right_arm"]
    target = lab.observation().state[arm.state_index].copy()
    target[0] -= 0.6  # shoulder pitch: raise the right arm forward
    for _ in range(40):
        lab.step({"right_arm": target})
    after = {cam: lab.render(cam, 64, 64) for cam in ("left_wrist", "right_wrist")}
    moved = {cam: np.abs(after[cam].astype(int) - before[cam]).mean() for cam in before}
    assert moved["right_wrist"] > 10
    # That hand stayed put: its view changes a little (the body sways as the right arm swings, a table
    # edge in view shifts a row), an order of magnitude less than the moving hand's (3.6 against 58.7).
    assert moved["left_wrist"] < 0.15 * moved["right_wrist"]


def test_perturbations_are_named_seeded_and_within_bounds():
    from skills.tasks import load_task
    from skills.tasks.sampling import sample_perturbations

    task = load_task("block_to_zone_distractors")
    rgba = {"red_block": [0.85, 0.1, 0.1, 1.0]}
    args = (["ego_view", "right_wrist"], ["ceiling", "light0"], rgba)
    draws = [sample_perturbations(task, seed, *args) for seed in range(8)]
    assert sample_perturbations(task, 3, *args) == draws[3]
    v = task.variation
    for p in draws:
        assert v.speed[0] <= p["expert"]["speed"] <= v.speed[1]
        assert all(abs(g) <= b for g, b in zip(p["expert"]["grasp_offset"], v.grasp_offset_m, strict=True))
        assert all(abs(x) <= v.camera_pos_mm / 1000 for x in p["cameras"]["ego_view"]["pos_m"])
        assert all(abs(x) <= v.lighting for x in (f - 1 for f in p["lighting"].values()))
        assert abs(p["colours"]["red_block"][0] - 0.85) <= v.colour + 1e-9
        assert sorted(p["distractors"] + p["aside"]) == ["orange_block", "purple_block"]
    assert {len(p["distractors"]) for p in draws} == {0, 1, 2}
    nominal = sample_perturbations(task, 3, *args, vary=False)
    assert nominal["expert"] == {
        "speed": 1.0,
        "grasp_offset": [0.0] * 3,
        "approach_offset": 0.0,
        "via_offset": [0.0] * 3,
    }
