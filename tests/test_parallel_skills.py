"""Skills running together on disjoint joint groups, and failures the monitors must name.

Every verdict is read from the runtime's outcomes (monitors and skill judges over the world state).
"""

from __future__ import annotations

import pytest

from agent.faults import parse_fault
from agent.runtime import Runtime


def _outcomes(rt: Runtime) -> dict:
    return {o.call_id: o for o in rt.run_until_event()}


def test_hold_runs_beside_walk_to(lab):
    rt = Runtime(lab)
    rt.call("pick", "pick", {"object": "graduated_cylinder", "hand": "left"})
    assert _outcomes(rt)["pick"].ok
    both = 0

    def watch(r: Runtime) -> None:
        nonlocal both
        both += "base" in r.last_command and "left_hand" in r.last_command and "left_arm" in r.last_command

    rt.on_tick.append(watch)
    rt.call("hold", "hold", {"object": "graduated_cylinder", "hand": "left"})
    rt.call("walk", "walk_to", {"station": "shelf"})
    out = _outcomes(rt)
    assert out["walk"].ok and out["hold"].ok, out
    assert both > 100  # both executors commanded their groups in the same ticks
    world = lab.world_state()
    assert world.robot.station == "shelf" and world.robot.holding["left"] == "graduated_cylinder"


def test_left_hand_holds_the_flask_while_the_right_pours_into_it(lab):
    rt = Runtime(lab)
    rt.run_calls(
        [
            ("w1", "walk_to", {"station": "shelf"}, []),
            ("p1", "pick", {"object": "hydrogen_peroxide_bottle", "hand": "right"}, ["w1"]),
            ("w2", "walk_to", {"station": "bench"}, ["p1"]),
            ("p2", "pick", {"object": "flask", "hand": "left"}, ["w2"]),
        ]
    )
    assert [o.status for o in rt.outcomes] == ["success"] * 4, rt.outcomes
    before = lab.world_state().containers["flask"].received_ml
    both = 0

    def watch(r: Runtime) -> None:
        nonlocal both
        both += "left_hand" in r.last_command and "right_arm" in r.last_command

    rt.on_tick.append(watch)
    rt.call("hold", "hold", {"object": "flask", "hand": "left"})
    rt.call("pour", "pour", {"source": "hydrogen_peroxide_bottle", "target": "flask", "volume_ml": 50})
    out = _outcomes(rt)
    assert out["pour"].ok and out["hold"].ok, out
    assert both > 50
    world = lab.world_state()
    assert world.containers["flask"].received_ml - before == pytest.approx(50, abs=5)
    assert world.robot.holding["left"] == "flask"


def test_drop_during_carry_is_reported_within_half_a_second(lab):
    rt = Runtime(lab, faults=[parse_fault("drop:hand=left,during=walk_to,after=1.0")])
    rt.call("pick", "pick", {"object": "graduated_cylinder", "hand": "left"})
    rt.call("walk", "walk_to", {"station": "shelf"}, after=["pick"])
    out = _outcomes(rt)
    assert out["pick"].ok
    walk = out["walk"]
    assert (walk.status, walk.reason) == ("failure", "dropped")
    fired_at = walk.started_s + 1.0
    assert 0 <= walk.sim_time_s - fired_at <= 0.5


def test_pouring_beside_the_target_is_a_spill(lab):
    rt = Runtime(lab, faults=[parse_fault("displace:object=flask,dx=0.15,during=pour,after=4.5")])
    rt.run_calls(
        [
            ("w1", "walk_to", {"station": "shelf"}, []),
            ("p1", "pick", {"object": "hydrogen_peroxide_bottle", "hand": "right"}, ["w1"]),
            ("w2", "walk_to", {"station": "bench"}, ["p1"]),
            (
                "pour",
                "pour",
                {"source": "hydrogen_peroxide_bottle", "target": "flask", "volume_ml": 60},
                ["w2"],
            ),
        ]
    )
    pour = rt.outcomes[-1]
    assert (pour.skill, pour.status, pour.reason) == ("pour", "failure", "spill"), rt.outcomes
    assert lab.world_state().spilled_ml > 10


def test_a_skill_past_its_timeout_is_timeout(lab):
    rt = Runtime(lab, faults=[parse_fault("noanswer:skill=pick")])
    rt.call("pick", "pick", {"object": "red_block", "hand": "right"})
    (out,) = rt.run_until_event()
    assert (out.status, out.reason) == ("failure", "timeout")
    assert out.sim_time_s == pytest.approx(12.0, abs=0.05)
    assert lab.world_state().robot.holding["right"] is None
