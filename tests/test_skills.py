"""Every lab skill succeeds from randomized seeds, judged by the runtime's monitors (not by the executors).

Prerequisites are chained in one Runtime per seed (one env, reset per seed), so each chain covers several
skills: walk_to shelf -> pick -> hold ∥ walk_to bench -> pour -> place -> home, and so on.
"""

from __future__ import annotations

import pytest

from envs.robots.g1.g1_constants import ARM_SPEED_LIMIT
from eval.bench.skills import CHAINS, run_chain

SEEDS = range(10)
FEW = range(2)  # the long chains: a couple of seeds each keeps the suite's CPU budget
PLACE_TOL_M = 0.02  # placed objects end within this of the target's centre (issue 16)
RELEASE_MAX_M = 0.005  # and move less than this while the fingers open and the hand backs off
REST_SPEED = 0.01  # m/s


@pytest.fixture(scope="module")
def env():
    from envs.lab.env import G1LabEnv

    e = G1LabEnv(seed=0, locomotion="holonomic")
    yield e
    e.close()


def assert_all_succeeded(env, chain: str, seed: int) -> dict[str, dict]:
    """Every call of the chain succeeded and no arm joint moved faster than the limit (both measured)."""
    result = run_chain(env, chain, seed)
    got = {o["call_id"]: o for o in result.outcomes}
    calls = [c[0] for c in CHAINS[chain]]
    missing = [c for c in calls if c not in got]
    failed = {k: (o["skill"], o["reason"], o["evidence"]) for k, o in got.items() if o["status"] != "success"}
    assert not failed and not missing, f"seed {seed}: failed {failed}, never decided {missing}"
    assert result.max_arm_speed <= ARM_SPEED_LIMIT, (
        f"seed {seed}: arm joint at {result.max_arm_speed:.2f} rad/s ({result.peak_at})"
    )
    places = [c for c in CHAINS[chain] if c[1] == "place"]
    assert len(result.placements) == len(places), f"seed {seed}: a place never let go"
    for p in result.placements:
        assert p["offset_m"] <= PLACE_TOL_M, f"seed {seed}: {p}"
        assert p["release_m"] < RELEASE_MAX_M, f"seed {seed}: {p}"
        assert p["speed"] < REST_SPEED, f"seed {seed}: {p}"
    return got


@pytest.mark.parametrize("seed", SEEDS)
def test_fetch_carry_pour_place_home(env, seed):
    """walk_to, pick (right side grasp), hold ∥ walk_to, pour 60 ml into the flask, place, home."""
    got = assert_all_succeeded(env, "peroxide", seed)
    assert abs(got["pour"]["evidence"]["received_ml"] - 60.0) <= 6.0


@pytest.mark.parametrize("seed", FEW)
def test_soap_fetch_pour_place(env, seed):
    """The soap bottle with the left hand: walk_to, pick, hold ∥ walk_to, pour 20 ml, place, home."""
    got = assert_all_succeeded(env, "soap", seed)
    assert abs(got["pour"]["evidence"]["received_ml"] - 20.0) <= 5.0


@pytest.mark.parametrize("seed", FEW)
def test_catalyst_fetch_pour_place(env, seed):
    """The catalyst cup: walk_to, pick, hold ∥ walk_to, pour all 40 ml, place, home."""
    got = assert_all_succeeded(env, "catalyst", seed)
    assert abs(got["pour"]["evidence"]["received_ml"] - 40.0) <= 5.0


@pytest.mark.parametrize("seed", FEW)
def test_cylinder_to_a_free_spot(env, seed):
    """The graduated cylinder with the left hand to a free spot on the bench, home."""
    assert_all_succeeded(env, "cylinder", seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_block_pinch_to_zone(env, seed):
    """pick the block with a top pinch (thumb and one finger on opposite faces), place it in the yellow zone
    (judged in_zone) without moving it 5 mm on release, home."""
    assert_all_succeeded(env, "block", seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_flask_back_into_tray(env, seed):
    """pick the flask with the left hand and place it back on its tray (within 4 cm of the centre), home."""
    assert_all_succeeded(env, "flask", seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_body_skills(env, seed):
    """look_at, open_hand, close_hand, wave, home (both), turn_to, wait, step_back, walk_to back."""
    assert_all_succeeded(env, "misc", seed)
