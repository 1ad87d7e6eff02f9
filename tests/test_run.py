"""`tandem run` end to end: the offline planner, the graph and System 1 in the simulator."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.records import read_events
from eval.bench.replay import main as replay_main


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_RUNS_DIR", str(tmp_path))
    return tmp_path


def _run(args: list[str]) -> tuple[int, dict]:
    res = CliRunner().invoke(app, ["run", *args, "--json"])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res.exit_code, json.loads(res.stdout.strip().splitlines()[-1])


def _assert_toothpaste(s: dict) -> None:
    assert any(r["container"] == "flask" and r["reaction"] == "elephant_toothpaste" for r in s["reactions"])
    assert s["spilled_ml"] < 10.0
    skills = [step["skill"] for step in s["plan"]]
    assert skills[-1] == "step_back"
    pours = [step["args"]["source"] for step in s["plan"] if step["skill"] == "pour"]
    assert pours[-1] == "catalyst_cup"  # the catalyst goes in last


@pytest.mark.parametrize("seed", [0, 5, 19])
def test_elephant_toothpaste(runs_dir, seed):
    """The quick start, on the embedded default: a free-standing G1 walked by the learned policy, to the
    shelf, both bottles carried to the bench and poured, carried back and put away, the catalyst fetched
    and poured, a step back, all on its feet. 48 of 48 seeds on the GPU machine's cores
    (docs/locomotion.md, "Default round"). On seeds 5 and 19 a hold once found no way down from its pour
    and the walk back to the shelf started with a bottle held out front (it struck the bench). Walks are
    chaotic: any change to the code re-draws which seeds succeed."""
    code, s = _run(["prepare elephant toothpaste", "--seed", str(seed)])
    assert code == 0, (
        s["message"],
        [(o["call_id"], o["reason"]) for o in s["outcomes"] if o["status"] == "failure"],
    )
    _assert_toothpaste(s)
    assert (runs_dir / s["run_id"] / "summary.json").exists()
    assert not any(o["reason"] == "fell" for o in s["outcomes"])
    walks = [o for o in s["outcomes"] if o["skill"] == "walk_to" and o["status"] == "success"]
    assert len(walks) >= 4  # shelf, bench, shelf, bench: on legs
    # Its run record replays exactly: the last step back, from the checkpoint before it.
    replayed = runs_dir / "replayed.json"
    replay_main([str(runs_dir / s["run_id"]), "--skill", "step_back", "--jobs", "1", "--json", str(replayed)])
    (wave,) = json.loads(replayed.read_text())
    assert wave["as run"]["outcomes"] == wave["recorded"]
    assert wave["as run"]["robot"] == s["final_world"]["robot"]


@pytest.mark.parametrize("seed", [0, 1])
def test_elephant_toothpaste_gliding(runs_dir, seed):
    """The same request on the holonomic base (`--locomotion holonomic`): the legs held in stance."""
    code, s = _run(["prepare elephant toothpaste", "--seed", str(seed), "--locomotion", "holonomic"])
    assert code == 0, s["message"]
    _assert_toothpaste(s)


def test_replay_names_what_is_wrong_with_its_input(runs_dir, capsys):
    (runs_dir / "empty").mkdir()
    cases = [
        ([str(runs_dir / "nope")], "no such folder"),
        ([str(runs_dir / "empty")], "no run records"),
        ([str(runs_dir), "--locomotion", "walker:missing.yaml"], "missing.yaml: no such walker policy file"),
        ([str(runs_dir), "--locomotion", "holonomic"], "has no walker to compare"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exc:
            replay_main([*args, "--skill", "step_back"])
        assert exc.value.code == 2
        assert message in capsys.readouterr().err


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


def test_documented_drop_knocks_the_object_out_and_the_run_recovers(runs_dir):
    # The README's example: 0.3 s into the first walk_to with the block in hand, as the robot backs
    # away from the bench: the block lands on the bench. Gliding: the repair is what is tested.
    drop = "drop:hand=right,during=walk_to,when=holding,after=0.3"
    task = "bring the red block to the shelf with the right hand"
    code, s = _run([task, "--seed", "1", "--inject", drop, "--locomotion", "holonomic"])
    events = read_events(runs_dir / s["run_id"])
    applied = [(e["fault"], e["detail"], e["call_id"]) for e in events if e["kind"] == "fault_applied"]
    walks = [e["call_id"] for e in events if e["kind"] == "dispatch" and e["skill"] == "walk_to"]
    assert applied == [(drop, "knocked red_block out of the right hand", walks[0])]
    dropped = [e for e in events if e["kind"] == "outcome" and e["reason"] == "dropped"]
    decisions = [e["decision"] for e in events if e["kind"] == "decision"]
    assert dropped, "the injected drop must be reported"
    assert "repair" in decisions
    repicks = [e for e in events if e["kind"] == "dispatch" and e["skill"] == "pick"]
    assert len(repicks) >= 2  # picked again after the drop
    assert code == 0 and s["replans"] >= 1, s["message"]
    assert _final_world(runs_dir / s["run_id"])["objects"]["red_block"]["station"] == "shelf"


def test_a_fault_with_nothing_to_act_on_is_recorded_as_such(runs_dir):
    # The first walk_to starts with empty hands: nothing to knock out, and the record says so.
    drop = "drop:hand=left,during=walk_to,after=0.5"
    res = CliRunner().invoke(app, ["skill", "walk_to", "--station", "shelf", "--seed", "0", "--inject", drop])
    assert res.exit_code == 0, res.output
    run_dir = next(runs_dir.iterdir())
    faults = [e for e in read_events(run_dir) if e["kind"].startswith("fault_")]
    assert [(e["kind"], e["fault"]) for e in faults] == [("fault_not_applicable", drop)]
    assert faults[0]["reason"] == "the left hand held nothing 0.5 s into the call"
    # A call the run never makes is reported at its end.
    res = CliRunner().invoke(
        app, ["skill", "walk_to", "--station", "shelf", "--seed", "0", "--inject", "noanswer:skill=pour"]
    )
    events = read_events(max(runs_dir.iterdir(), key=lambda d: d.stat().st_mtime))
    assert [(e["kind"], e["reason"]) for e in events if e["kind"].startswith("fault_")] == [
        ("fault_not_applicable", "no pour call in this run")
    ]


def test_seed_is_drawn_recorded_and_repeats_the_run_and_resume_of_it_changes_nothing(runs_dir):
    code, first = _run(["move the red block to the yellow zone"])
    assert code == 0, first["message"]
    run_dir = runs_dir / first["run_id"]
    meta = json.loads((run_dir / "meta.json").read_text())
    assert isinstance(first["seed"], int) and meta["seed"] == first["seed"]

    # Resuming a finished run says so and leaves every file of its record as it was.
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    res = CliRunner().invoke(app, ["run", "--resume", first["run_id"][:-2]])  # a unique prefix
    assert res.exit_code == 0 and "has already finished (success" in res.output, res.output
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before

    # The recorded seed gives the same scene and the same final world.
    code, again = _run(["move the red block to the yellow zone", "--seed", str(meta["seed"])])
    assert code == 0 and again["run_id"] != first["run_id"]
    assert again["final_world"] == first["final_world"]

    # Only runs are listed, with full ids; `show` takes a unique prefix and prints the command to re-run.
    (runs_dir / "scene").mkdir()
    listing = CliRunner().invoke(app, ["runs"]).output
    assert first["run_id"] in listing and again["run_id"] in listing
    assert not re.search(r"^\s*scene\s", listing, re.MULTILINE)
    shown = CliRunner().invoke(app, ["runs", "show", first["run_id"][:-1]]).output
    assert f"--seed {meta['seed']}" in shown and "summary: success" in shown


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


def test_run_killed_during_start_up_is_listed_and_resumes_from_its_request(runs_dir):
    env = {**os.environ, "TANDEM_RUNS_DIR": str(runs_dir)}
    cmd = [sys.executable, "-m", "agent.cli.main", "run", "bake a cake", "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # The request is on disk before the robot model loads; kill while it loads.
        run_dir = _wait_for(lambda: next(iter(runs_dir.iterdir()), None), 120)
        _wait_for(lambda: (run_dir / "meta.json").exists() and (run_dir / "events.jsonl").exists(), 120)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not any(e["kind"] == "node" for e in read_events(run_dir)), "killed too late for this test"
    listing = CliRunner().invoke(app, ["runs"]).output
    assert "aborted at start-up" in listing

    code, s = _run(["--resume", run_dir.name])
    assert code == 2 and s["status"] == "not_understood" and s["goal"] == "bake a cake"
    assert s["run_id"] == run_dir.name and "I can:" in s["message"]


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
        "--locomotion",
        "holonomic",  # gliding: the resume is what is tested (a walk's replay: test_elephant_toothpaste)
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
    # Wall time covers both processes: the killed one's drive as well as this one's.
    assert s["wall_time_s"] > s["this_process_wall_s"] > 0
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
