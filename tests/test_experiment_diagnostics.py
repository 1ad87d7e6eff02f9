"""Experiment diagnostics on synthetic rollouts whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from eval.experiments import diagnostics as dg


def _traj(offset: float = 0.0, seconds: float = 4.0, hz: float = 20.0, dim: int = 14) -> dg.Trajectory:
    t = np.arange(0, seconds, 1 / hz)
    q = np.sin(t[:, None] + np.arange(dim)[None, :] * 0.1) + offset
    return dg.Trajectory(t, q)


def _rollout(
    seed: int, obj: np.ndarray, grasp: np.ndarray, traj: dg.Trajectory, ok: bool = True
) -> dg.Rollout:
    return dg.Rollout(seed, "move the red block to the yellow zone", ok, traj, obj, grasp)


def test_trajectory_distance_is_zero_for_same_motion_and_grows_with_offset():
    a = _traj()
    # the same motion sampled at another rate and time origin is the same trajectory
    b = dg.Trajectory(np.arange(0, 4.0, 1 / 50) + 7.0, _traj(hz=50).q)
    assert dg.trajectory_distance(a, b) < 1e-2
    # a constant 0.1 rad offset on 14 joints: sqrt(14) * 0.1
    assert dg.trajectory_distance(a, _traj(0.1)) == pytest.approx(0.1 * np.sqrt(14), rel=1e-6)
    # a shorter trajectory holds its last pose: not zero, and symmetric
    short = _traj(seconds=2.0)
    assert dg.trajectory_distance(a, short) > 0.1
    assert dg.trajectory_distance(a, short) == pytest.approx(dg.trajectory_distance(short, a))


def test_identical_rollouts_have_zero_pairwise_distance_and_one_unique_trajectory():
    same = [_traj() for _ in range(5)]
    s = dg.pairwise_spread(same)
    assert s.pairs == 10 and s.mean == pytest.approx(0.0, abs=1e-9) and s.unique == 1
    varied = [_traj(0.2 * i) for i in range(5)]
    v = dg.pairwise_spread(varied)
    assert v.mean > 0.5 and v.unique == 5


def test_memorization_is_zero_for_a_rollout_equal_to_a_demo():
    demos = [_traj(0.3 * i) for i in range(4)]
    m = dg.memorization([demos[2], demos[0]], demos)
    assert m.rollout_to_demo == [0.0, 0.0] and m.ratio == 0.0
    assert m.median_demo == pytest.approx(0.3 * np.sqrt(14), rel=1e-6)
    between = dg.memorization([_traj(0.15)], demos)  # halfway between two demos
    assert between.ratio == pytest.approx(0.5, rel=1e-6)


def test_start_sensitivity_slope_zero_when_the_object_is_ignored_and_one_when_tracked():
    rng = np.random.default_rng(0)
    objs = np.column_stack([rng.uniform(0.3, 0.5, 20), rng.uniform(-0.2, 0.1, 20), np.full(20, 0.8)])
    fixed = np.array([0.42, -0.05, 0.85])
    ignoring = [_rollout(i, o, fixed + rng.normal(0, 1e-3, 3), _traj()) for i, o in enumerate(objs)]
    tracking = [
        _rollout(i, o, o + np.array([0.01, 0.0, 0.05]) + rng.normal(0, 1e-3, 3), _traj())
        for i, o in enumerate(objs)
    ]
    fi, ft = dg.start_sensitivity(ignoring), dg.start_sensitivity(tracking)
    for axis in "xy":
        assert abs(fi[axis].slope) < 0.05 and fi[axis].r2 < 0.3
        assert ft[axis].slope == pytest.approx(1.0, abs=0.05) and ft[axis].r2 > 0.98


def test_grasp_point_first_hold_else_closest_approach():
    t = np.arange(5.0)
    # The hand starts hanging lowest (at rest), reaches up and over towards the object, backs off.
    hand = np.array([[0, 0, 0.6], [0.1, 0, 0.8], [0.3, 0, 0.85], [0.32, 0, 0.83], [0.2, 0, 0.9]])
    block = np.array([0.34, 0.0, 0.82])
    assert dg.grasp_point(t, hand, np.array([0, 0, 1, 1, 0]), block).tolist() == [0.3, 0, 0.85]
    assert dg.grasp_point(t, hand, np.zeros(5), block).tolist() == [0.32, 0, 0.83]


def test_prompt_sensitivity_zero_when_instruction_ignored():
    ref = [_rollout(s, np.zeros(3), np.zeros(3), _traj(0.1 * s)) for s in range(3)]
    same = [
        dg.Rollout(s, "pick up the cylinder", False, _traj(0.1 * s), np.zeros(3), np.zeros(3))
        for s in range(3)
    ]
    p = dg.prompt_sensitivity(ref, same)
    assert p.distance == pytest.approx(0.0, abs=1e-9) and p.followed == 0 and p.pairs == 3
    moved = [
        dg.Rollout(s, "pick up the cylinder", s > 0, _traj(0.1 * s + 0.5), np.zeros(3), np.zeros(3))
        for s in range(3)
    ]
    q = dg.prompt_sensitivity(ref, moved)
    assert q.distance == pytest.approx(0.5 * np.sqrt(14), rel=1e-6) and q.followed == 2


def test_success_rate_uses_wilson_interval():
    r = dg.success_rate([True] * 7 + [False] * 7)
    assert (r.k, r.n, r.rate) == (7, 14, 0.5)
    assert 0.25 < r.lo < 0.5 < r.hi < 0.75
    assert all(v for v in dg.DEFINITIONS.values())


def test_vision_probe_r2_finds_a_linear_code_and_not_noise():
    """The probe behind `eval.experiments.vision_probe`: features that hold the target linearly (among
    many distractor columns) score R² near 1 out of fold; features of pure noise do not."""
    from eval.experiments.vision_probe import best_r2

    rng = np.random.default_rng(0)
    xy = rng.uniform(-0.04, 0.04, size=(80, 2))
    noise = rng.normal(size=(80, 100))
    coded = np.concatenate([xy @ rng.normal(size=(2, 20)), noise], axis=1)
    r2_coded, _ = best_r2(coded, xy)
    r2_noise, _ = best_r2(noise, xy)
    assert (r2_coded > 0.9).all(), r2_coded
    assert (r2_noise < 0.3).all(), r2_noise
