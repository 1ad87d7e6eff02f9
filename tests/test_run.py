"""`tandem run` end to end: the offline planner, the graph and System 1 in the simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.records import read_events


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_RUNS_DIR", str(tmp_path))
    return tmp_path


def _run(args: list[str]) -> tuple[int, dict]:
    res = CliRunner().invoke(app, ["run", *args, "--json"])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res.exit_code, json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_elephant_toothpaste(runs_dir, seed):
    code, s = _run(["prepare elephant toothpaste", "--seed", str(seed)])
    assert code == 0, (
        s["message"],
        [(o["call_id"], o["reason"]) for o in s["outcomes"] if o["status"] == "failure"],
    )
    assert any(r["container"] == "flask" and r["reaction"] == "elephant_toothpaste" for r in s["reactions"])
    assert s["spilled_ml"] < 10.0
    skills = [step["skill"] for step in s["plan"]]
    assert skills[-1] == "step_back"
    pours = [step["args"]["source"] for step in s["plan"] if step["skill"] == "pour"]
    assert pours[-1] == "catalyst_cup"  # the catalyst goes in last
    assert (runs_dir / s["run_id"] / "summary.json").exists()


@pytest.mark.parametrize(
    ("goal", "check"),
    [
        (
            "move the red block to the yellow zone",
            lambda w: w["objects"]["red_block"]["in_zone"] == "yellow_zone",
        ),
        ("bring the soap to the bench", lambda w: w["objects"]["soap_bottle"]["station"] == "bench"),
        (
            "pour 50 ml of hydrogen peroxide into the flask",
            lambda w: 45 <= w["containers"]["flask"]["contents_ml"].get("hydrogen_peroxide", 0) <= 55,
        ),
    ],
)
def test_tasks_judged_from_world_state(runs_dir, goal, check):
    code, s = _run([goal, "--seed", "1"])
    assert code == 0, s["message"]
    world = _final_world(runs_dir / s["run_id"])
    assert check(world), world


def _final_world(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())["final_world"]


def test_drop_mid_carry_is_recovered(runs_dir):
    # Knocked out of the hand as the robot backs away from the bench: the block lands on the bench.
    drop = "drop:hand=right,during=walk_to,after=0.3"
    code, s = _run(["bring the red block to the shelf", "--seed", "1", "--inject", drop])
    events = read_events(runs_dir / s["run_id"])
    dropped = [e for e in events if e["kind"] == "outcome" and e["reason"] == "dropped"]
    decisions = [e["decision"] for e in events if e["kind"] == "decision"]
    assert dropped, "the injected drop must be reported"
    assert "repair" in decisions
    repicks = [e for e in events if e["kind"] == "dispatch" and e["skill"] == "pick"]
    assert len(repicks) >= 2  # picked again after the drop
    assert code == 0 and s["replans"] >= 1, s["message"]
    assert _final_world(runs_dir / s["run_id"])["objects"]["red_block"]["station"] == "shelf"


def test_unknown_task_gets_an_answer_and_a_record(runs_dir):
    code, s = _run(["bake a cake"])
    assert code == 2
    assert (
        s["status"] == "not_understood" and "I can:" in s["message"] and "elephant toothpaste" in s["message"]
    )
    kinds = [e["kind"] for e in read_events(runs_dir / s["run_id"])]
    assert "reply" in kinds and "summary" in kinds


def test_empty_task_is_bad_input(runs_dir):
    res = CliRunner().invoke(app, ["run", "  "])
    assert res.exit_code == 2 and "give a task" in res.output


def test_killed_run_resumes_without_redoing_finished_steps(runs_dir):
    env = {**os.environ, "TANDEM_RUNS_DIR": str(runs_dir)}
    cmd = [
        sys.executable,
        "-m",
        "agent.cli.main",
        "run",
        "bring the soap to the bench",
        "--seed",
        "1",
        "--json",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_dir = _wait_for(lambda: next(iter(runs_dir.iterdir()), None), 120)
        # Kill right after a wave that finished a pick has been checkpointed (reflect ran on it).
        _wait_for(lambda: _picked_and_reflected(run_dir), 240)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = read_events(run_dir)
    done_before = {e["call_id"] for e in before if e["kind"] == "outcome" and e["status"] == "success"}
    assert done_before and not (run_dir / "summary.json").exists()

    code, s = _run(["--resume", run_dir.name])
    assert code == 0, s["message"]
    after = read_events(run_dir)[len(before) :]
    redone = {e["call_id"] for e in after if e["kind"] == "dispatch"} & done_before
    assert not redone, f"finished steps ran again: {redone}"
    assert _final_world(run_dir)["objects"]["soap_bottle"]["station"] == "bench"


def _picked_and_reflected(run_dir: Path) -> bool:
    try:
        events = read_events(run_dir)
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    picked = [
        i
        for i, e in enumerate(events)
        if e["kind"] == "outcome" and e["skill"] == "pick" and e["status"] == "success"
    ]
    return bool(picked) and any(e["kind"] == "node" and e["node"] == "reflect" for e in events[picked[0] :])


def _wait_for(fn, timeout_s: float):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"condition not met in {timeout_s} s")


@pytest.mark.parametrize(
    ("text", "status", "code"),
    [
        ("do not prepare elephant toothpaste", "declined", 2),
        ("stop the toothpaste experiment", "declined", 2),
        ("knock the red block off the table", "declined", 2),
        ("clean up after the toothpaste experiment", "needs_user", 1),
    ],
)
def test_negated_and_contrary_requests_never_move_the_robot(runs_dir, text, status, code):
    got, s = _run([text, "--seed", "0"])
    assert (got, s["status"]) == (code, status), s["message"]
    assert s["message"].startswith("I will not do this:") and s["outcomes"] == [] and s["plan"] == []
    kinds = [e["kind"] for e in read_events(runs_dir / s["run_id"])]
    assert "dispatch" not in kinds and "plan" not in kinds
    assert s["final_world"]["time_s"] == 0.0  # not one control tick


def test_an_unreachable_pick_is_repaired_with_the_other_hand_before_the_robot_moves(runs_dir):
    # The red block lies on the robot's right: the left hand cannot take it (it failed as not_grasped in
    # one tick, then was retried 4 times and re-planned 3 times). Validation rejects the plan, the repair
    # picks with the right hand, and the block reaches the zone with no failed call.
    code, s = _run(["move the red block to the yellow zone with the left hand", "--seed", "0"])
    assert code == 0, s["message"]
    events = read_events(runs_dir / s["run_id"])
    invalid = [e for e in events if e["kind"] == "invalid_plan"]
    assert invalid and "unreachable: red_block is" in invalid[0]["issues"][0]
    assert "left hand's workspace" in invalid[0]["issues"][0]
    picks = [e["args"]["hand"] for e in events if e["kind"] == "dispatch" and e["skill"] == "pick"]
    assert picks == ["right"]
    assert not [o for o in s["outcomes"] if o["status"] == "failure"] and s["retries"] == 0
    assert (
        s["replans"] == 1
        and _final_world(runs_dir / s["run_id"])["objects"]["red_block"]["in_zone"] == "yellow_zone"
    )


def test_skill_rejects_an_unreachable_call_before_motion(runs_dir):
    res = CliRunner().invoke(
        app, ["skill", "pick", "--object", "red_block", "--hand", "left", "--seed", "0", "--json"]
    )
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert res.exit_code == 1 and out["reason"] == "unreachable" and out["sim_time_s"] == 0.0
    assert "left hand's workspace" in out["evidence"]["detail"]


def test_a_weak_match_waits_for_a_person_to_confirm_before_the_robot_moves(runs_dir):
    from agent.session import RunConfig, RunSession

    # "do the experiment" scores 0.53 against the toothpaste recipe: above the threshold, below CONFIDENT.
    s = RunSession(RunConfig(goal="do the experiment", seed=0), root=runs_dir)
    try:
        summary = s.run(confirm_weak=True)  # as chat runs every task
        question = s.pending_approval()["question"]
        assert summary["status"] == "awaiting_approval" and summary["outcomes"] == []
        assert "weak match" in question and "prepare elephant toothpaste" in question
        summary = s.answer(False)
    finally:
        s.close()
    assert summary["status"] == "rejected" and summary["outcomes"] == []
    assert "dispatch" not in [e["kind"] for e in read_events(runs_dir / summary["run_id"])]
