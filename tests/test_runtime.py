"""System-1 runtime: dispatching, composition, slow executors, faults, and clear refusals."""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.dispatcher import GroupsBusy
from agent.faults import FaultError, parse_fault
from agent.records import RunRecord, read_events
from agent.runtime import Runtime


def test_slow_executor_does_not_stall_others(lab):
    """A chunk policy answering 60 ms late (many ticks at this sim speed) runs beside walk_to;
    the base keeps receiving commands every tick while the policy's answers are pending."""
    rt = Runtime(lab)
    rt.call("walk", "walk_to", {"station": "shelf"})
    rt.call("wave", "wave", {"arm": "left", "latency_s": 0.06, "seconds": 3.0})
    base_ticks = 0
    wave_ticks = 0
    late_base_ticks = 0
    executors = {}
    rt.on_start.append(lambda a: executors.__setitem__(a.call.id, a.executor))

    def watch(r: Runtime) -> None:
        nonlocal base_ticks, wave_ticks, late_base_ticks
        if "base" in r.last_command:
            base_ticks += 1
            if "wave" in executors and executors["wave"]._pending is not None:
                late_base_ticks += 1
        if "left_arm" in r.last_command:
            wave_ticks += 1

    rt.on_tick.append(watch)
    outcomes = {o.call_id: o for o in rt.run_until_event()}
    assert all(c in outcomes and outcomes[c].ok for c in ("walk", "wave")), outcomes
    assert executors["wave"].late_ticks > 0  # the policy really was late...
    assert late_base_ticks > 20  # ...and the base kept being commanded meanwhile
    assert wave_ticks > 0 and base_ticks > 100


def test_parallel_calls_write_their_own_groups_in_the_same_ticks(lab):
    rt = Runtime(lab)
    rt.call("walk", "walk_to", {"station": "shelf"})
    rt.call("wave", "wave", {"arm": "left", "seconds": 2.4})
    both = 0

    def watch(r: Runtime) -> None:
        nonlocal both
        both += "base" in r.last_command and "left_arm" in r.last_command

    rt.on_tick.append(watch)
    outcomes = {o.call_id: o for o in rt.run_until_event()}
    assert outcomes["walk"].ok and outcomes["wave"].ok
    assert both > 50
    assert lab.world_state().robot.station == "shelf"


class _JumpPolicy:
    """A chunk policy whose every action is the arm raised 0.8 rad sideways (shoulder roll) from its start."""

    groups = ("left_arm",)

    def __init__(self) -> None:
        self.goal: np.ndarray | None = None

    def infer(self, obs, world):
        if self.goal is None:
            self.goal = obs.state[15:22].copy()
            self.goal[1] += 0.8
        return {"left_arm": np.repeat(self.goal[None], 8, axis=0)}


def test_chunk_policy_targets_are_slewed_at_the_arm_speed_limit(lab):
    """A policy asking for a 0.8 rad jump gets there, without any arm joint passing the speed limit."""
    from envs.robots.g1.g1_constants import ARM_SPEED_LIMIT
    from skills.controllers.trajectory import MAX_JOINT_SPEED
    from skills.policies.chunked import ChunkedPolicyExecutor, SpeedLimit

    arm = lab.embodiment.groups["left_arm"].state_index
    obs, world = lab.observation(), lab.world_state()
    policy = _JumpPolicy()
    ex = ChunkedPolicyExecutor(policy, steps=100, limits={"left_arm": SpeedLimit(arm, MAX_JOINT_SPEED)})
    ex.reset(obs, world)
    peak = 0.0
    for _ in range(100):
        command = ex.act(obs, world)
        obs = lab.step(command)
        peak = max(peak, float(np.abs(obs.velocity[arm]).max()))
    ex.close()
    assert peak <= ARM_SPEED_LIMIT
    assert peak > 0.5 * MAX_JOINT_SPEED  # it did move, near the limit
    assert abs(obs.state[arm][1] - policy.goal[1]) < 0.05


class _GatedPolicy(_JumpPolicy):
    """_JumpPolicy whose answers wait for ``gate`` (set: answer at once)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def infer(self, obs, world):
        self.gate.wait()
        return super().infer(obs, world)


def test_lockstep_waits_for_a_late_chunk_instead_of_holding(lab):
    """In lockstep every tick plays an action, however long the policy thinks; without it, ticks
    before the first answer hold and are counted late."""
    from skills.policies.chunked import ChunkedPolicyExecutor

    obs, world = lab.observation(), lab.world_state()
    held = _GatedPolicy()
    ex = ChunkedPolicyExecutor(held, steps=10)
    ex.reset(obs, world)
    assert ex.act(obs, world) == {} and ex.late_ticks == 1  # no answer yet: the robot holds
    held.gate.set()
    ex.close()

    slow = _GatedPolicy()
    threading.Timer(0.2, slow.gate.set).start()  # answers arrive after the control loop asked
    ex = ChunkedPolicyExecutor(slow, steps=30, lockstep=True)
    ex.reset(obs, world)
    commands = [ex.act(obs, world) for _ in range(30)]
    ex.close()
    assert all("left_arm" in c for c in commands)
    assert ex.late_ticks == 0


def test_groups_in_use_are_refused_with_the_holder_named(lab):
    rt = Runtime(lab)
    rt.start_now("w1", "wave", {"arm": "left"})
    with pytest.raises(GroupsBusy, match=r"left_arm \(held by 'w1' wave\)"):
        rt.start_now("w2", "wave", {"arm": "left"})


@pytest.mark.parametrize(
    ("skill", "args", "message"),
    [
        ("pick", {"object": "unicorn", "hand": "right"}, "unknown object 'unicorn'"),
        ("pick", {"object": "red_block", "hand": "middle"}, "hand: Input should be 'left' or 'right'"),
        ("pick", {"object": "yellow_zone"}, "'yellow_zone' is a zone, not a"),
        ("walk_to", {"station": "kitchen"}, "unknown station 'kitchen'"),
        ("pour", {"source": "flask", "target": "red_block", "volume_ml": 5}, "'red_block' is a block"),
        ("wait", {"seconds": -1}, "seconds: Input should be greater than 0"),
    ],
)
def test_bad_calls_say_which_and_why(lab, skill, args, message):
    rt = Runtime(lab)
    with pytest.raises(ValueError, match=message):
        rt.call("c1", skill, args)


def test_timeout_is_reported(lab):
    rt = Runtime(lab, faults=[parse_fault("noanswer:skill=walk_to")])
    rt.call("walk", "walk_to", {"station": "shelf"})
    (out,) = rt.run_until_event()
    assert (out.status, out.reason) == ("failure", "timeout")
    assert out.sim_time_s == pytest.approx(20.0, abs=0.05)
    assert lab.world_state().robot.station == "bench"  # nothing moved the base


def test_blocked_station_is_reported_from_the_base_stalling(lab):
    rt = Runtime(lab, faults=[parse_fault("block:station=shelf")])
    rt.call("walk", "walk_to", {"station": "shelf"})
    (out,) = rt.run_until_event()
    assert (out.status, out.reason) == ("failure", "blocked")
    x, y, _ = out.evidence["base_pose"]
    assert math.hypot(x - 0.0, y - 2.5) > 0.1  # stopped short of the shelf's working pose (0, 2.5)
    assert lab.world_state().robot.station is None


def test_nan_ends_the_episode_as_unstable_and_keeps_the_record(lab, tmp_path):
    record = RunRecord(root=tmp_path)
    rt = Runtime(lab, faults=[parse_fault("nan:after=0.4")])
    rt.call("walk", "walk_to", {"station": "shelf"})
    record.event("dispatch", call_id="walk")
    outcomes = rt.run_until_event()
    for o in outcomes:
        record.event("outcome", **o.to_dict())
    record.close()
    assert [(o.status, o.reason) for o in outcomes] == [("failure", "unstable")]
    assert outcomes[0].sim_time_s == pytest.approx(0.4, abs=0.03)
    assert rt.episode_over is not None
    events = read_events(record.dir)
    assert [e["kind"] for e in events] == ["dispatch", "outcome"] and events[1]["reason"] == "unstable"


def test_outcomes_with_numpy_evidence_can_be_checkpointed():
    """Monitors measure with numpy; the checkpointer's msgpack refuses numpy scalars (a table force given
    as np.float64 ended a run on legs)."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from agent.outcome import Outcome

    o = Outcome(
        "s6",
        "walk_to",
        "failure",
        "table_collision",
        103.9,
        55.7,
        {"station": "bench"},
        {"force_n": np.float64(799.9), "base_pose": np.array([0.1, 2.5, 0.0]), "n": [np.int64(3)]},
    )
    serde = JsonPlusSerializer()
    back = serde.loads_typed(serde.dumps_typed({"outcomes": [o.to_dict()]}))["outcomes"][0]
    assert back["evidence"] == {"force_n": 799.9, "base_pose": [0.1, 2.5, 0.0], "n": [3]}


@pytest.mark.parametrize("text", ["explode:x=1", "drop:hand=middle", "drop:hand", "slow:ticks=1"])
def test_bad_faults_are_refused(text):
    with pytest.raises(FaultError):
        parse_fault(text)


def test_skill_cli_json_and_exit_codes(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_RUNS_DIR", str(tmp_path))
    runner = CliRunner()
    ok = runner.invoke(app, ["skill", "walk_to", "--station", "shelf", "--seed", "1", "--json"])
    assert ok.exit_code == 0, ok.output
    result = json.loads(ok.stdout)
    assert result["skill"] == "walk_to" and result["status"] == "success"
    assert result["sim_time_s"] > 2 and result["wall_time_s"] > 0
    assert (tmp_path / result["run_id"] / "events.jsonl").exists()
    failed = runner.invoke(
        app, ["skill", "walk_to", "--station", "shelf", "--inject", "block:station=shelf", "--json"]
    )
    assert failed.exit_code == 1 and json.loads(failed.stdout)["reason"] == "blocked"
    bad = runner.invoke(app, ["skill", "walk_to", "--station", "kitchen"])
    assert bad.exit_code == 2 and "unknown station 'kitchen'" in bad.output and "Traceback" not in bad.output
    unknown = runner.invoke(app, ["skill", "fly"])
    assert unknown.exit_code == 2 and "unknown skill 'fly'" in unknown.output


def test_skills_json_lists_schemas_with_scene_names():
    runner = CliRunner()
    res = runner.invoke(app, ["skills", "--json", "--scene", "g1_lab"])
    assert res.exit_code == 0, res.output
    tools = {t["name"]: t for t in json.loads(res.stdout)}
    assert {
        "walk_to",
        "pick",
        "place",
        "pour",
        "hold",
        "open_hand",
        "close_hand",
        "look_at",
        "home",
        "wait",
        "turn_to",
    } <= set(tools)
    assert tools["walk_to"]["parameters"]["properties"]["station"]["enum"] == ["bench", "shelf"]
    assert "red_block" in tools["pick"]["parameters"]["properties"]["object"]["enum"]
    assert "yellow_zone" not in tools["pick"]["parameters"]["properties"]["object"]["enum"]


def test_look_at_turns_the_waist_toward_the_object(lab):
    rt = Runtime(lab)
    rt.call("look", "look_at", {"object": "graduated_cylinder"})
    (out,) = rt.run_until_event()
    assert out.ok, out
    waist_yaw = lab.world_state().robot.joints["waist"][0]
    p = lab.world_state().objects["graduated_cylinder"].pos
    assert waist_yaw == pytest.approx(math.atan2(p[1], p[0]), abs=math.radians(8))
    assert np.sign(waist_yaw) == np.sign(p[1])


def test_slow_fault_delays_one_executor_by_ticks_and_never_the_others(lab):
    rt = Runtime(lab, faults=[parse_fault("slow:skill=walk_to,ticks=5")])
    rt.call("walk", "walk_to", {"station": "shelf"})
    rt.call("wave", "wave", {"arm": "left", "seconds": 3.0})
    wave_alone = 0

    def watch(r: Runtime) -> None:
        nonlocal wave_alone
        wave_alone += "left_arm" in r.last_command and "base" not in r.last_command

    rt.on_tick.append(watch)
    outcomes = {o.call_id: o for o in rt.run_until_event()}
    assert outcomes["walk"].ok and outcomes["wave"].ok
    assert wave_alone > 50  # ticks where the late base answered nothing but the arm was still commanded
    assert lab.world_state().robot.station == "shelf"
