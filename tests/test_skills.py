"""Every lab skill succeeds from randomized seeds, judged by the runtime's monitors (not by the executors).

Prerequisites are chained in one Runtime per seed (one env, reset per seed), so each chain covers several
skills: walk_to shelf -> pick -> hold ∥ walk_to bench -> pour -> place -> home, and so on.
"""

from __future__ import annotations

import pytest

from envs.robots.g1.g1_constants import ARM_SPEED_LIMIT
from eval.bench.skills import CHAINS, run_chain

SEEDS = range(10)


@pytest.fixture(scope="module")
def env():
    from envs.lab.env import G1LabEnv

    e = G1LabEnv(seed=0)
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
    return got


@pytest.mark.parametrize("seed", SEEDS)
def test_fetch_carry_pour_place_home(env, seed):
    """walk_to, pick (right side grasp), hold ∥ walk_to, pour 60 ml into the flask, place, home."""
    got = assert_all_succeeded(env, "peroxide", seed)
    assert abs(got["pour"]["evidence"]["received_ml"] - 60.0) <= 6.0


@pytest.mark.parametrize("seed", SEEDS)
def test_block_pinch_to_zone(env, seed):
    """pick the block with a top pinch, place it in the yellow zone (judged in_zone), home."""
    assert_all_succeeded(env, "block", seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_flask_back_into_tray(env, seed):
    """pick the flask with the left hand and place it back on its tray (within 4 cm of the centre), home."""
    assert_all_succeeded(env, "flask", seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_body_skills(env, seed):
    """look_at, open_hand, close_hand, wave, home (both), turn_to, wait, step_back, walk_to back."""
    assert_all_succeeded(env, "misc", seed)
