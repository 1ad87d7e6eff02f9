"""Diagnostics of learned manipulation policies, as pure functions of recorded trajectories.

Each function's docstring is its definition; the experiment report quotes them (``DEFINITIONS``). The
trajectory space is the arm and hand joint positions (rad) of the acting hand, the space a policy
commands and a LeRobot dataset stores, so rollouts and training demonstrations compare directly.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from eval.metrics import wilson

GRID_HZ = 10.0


@dataclass(frozen=True)
class Trajectory:
    """Joint positions over time: ``t`` (T,) seconds from the start, ``q`` (T, D) radians."""

    t: np.ndarray
    q: np.ndarray

    def __post_init__(self) -> None:
        if len(self.t) == 0 or len(self.t) != len(self.q):
            raise ValueError(
                f"a trajectory needs T >= 1 times and T joint vectors, got {len(self.t)} and {len(self.q)}"
            )


@dataclass(frozen=True)
class Rollout:
    """One closed-loop episode: the instruction it was given, what the physics judged, its trajectory,
    where the target object started and where the hand was when it grasped (see ``grasp_point``)."""

    seed: int
    instruction: str
    success: bool
    traj: Trajectory
    object_start: np.ndarray  # (3,) world position of the target object at the start
    grasp: np.ndarray  # (3,) world position of the hand at the grasp


# -- trajectory distance ------------------------------------------------------------------------------
def on_grid(traj: Trajectory, horizon_s: float, hz: float = GRID_HZ) -> np.ndarray:
    """The trajectory sampled on a common grid 0, 1/hz, ... < horizon_s (linear interpolation); after its
    end it holds its final pose."""
    grid = np.arange(0.0, horizon_s, 1.0 / hz) if horizon_s > 0 else np.zeros(1)
    t = np.asarray(traj.t, float) - float(traj.t[0])
    q = np.asarray(traj.q, float)
    return np.stack([np.interp(grid, t, q[:, j]) for j in range(q.shape[1])], axis=1)


def trajectory_distance(a: Trajectory, b: Trajectory, hz: float = GRID_HZ) -> float:
    """Trajectory distance: the root mean square over time of the Euclidean joint-space difference (rad),
    both trajectories sampled from their start on a common 10 Hz grid as long as the longer one, the
    shorter holding its final pose. 0 means the same motion; it grows with how far and how long they
    differ."""
    horizon = max(float(a.t[-1] - a.t[0]), float(b.t[-1] - b.t[0])) + 1.0 / hz
    qa, qb = on_grid(a, horizon, hz), on_grid(b, horizon, hz)
    if qa.shape[1] != qb.shape[1]:
        raise ValueError(f"trajectories of different joint counts: {qa.shape[1]} and {qb.shape[1]}")
    return float(np.sqrt(np.mean(np.sum((qa - qb) ** 2, axis=1))))


# -- success ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rate:
    k: int
    n: int
    rate: float
    lo: float
    hi: float


def success_rate(successes: list[bool]) -> Rate:
    """Success rate: successes / episodes as judged by the physics (the task's predicates on the final
    world; crashes and timeouts count as failures), with its 95% Wilson score interval."""
    k, n = sum(bool(s) for s in successes), len(successes)
    lo, hi = wilson(k, n)
    return Rate(k, n, k / n if n else 0.0, lo, hi)


# -- identical trajectory every run -------------------------------------------------------------------
@dataclass(frozen=True)
class Spread:
    mean: float
    median: float
    min: float
    pairs: int
    unique: int  # distinct trajectories at the threshold


def distinct_count(trajs: list[Trajectory], threshold: float) -> int:
    """Unique trajectories: rollouts grouped greedily (in order, each joins the first group whose first
    member is within ``threshold`` rad of it, else starts a group); the number of groups. 1 means every
    run made the same motion."""
    heads: list[Trajectory] = []
    for tr in trajs:
        if not any(trajectory_distance(tr, h) < threshold for h in heads):
            heads.append(tr)
    return len(heads)


def pairwise_spread(trajs: list[Trajectory], threshold: float = 0.05) -> Spread:
    """Identical trajectory every run: the trajectory distance between every pair of rollouts of one
    policy across scene seeds (different object positions). About 0 means the policy plays the same
    motion whatever the scene; scripted demonstrations on the same seeds set the scale."""
    d = [trajectory_distance(a, b) for a, b in itertools.combinations(trajs, 2)]
    if not d:
        return Spread(float("nan"), float("nan"), float("nan"), 0, len(trajs))
    return Spread(
        float(np.mean(d)), float(np.median(d)), float(np.min(d)), len(d), distinct_count(trajs, threshold)
    )


# -- memorization -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Memorization:
    rollout_to_demo: list[float]  # per rollout: distance to its nearest training demonstration
    demo_to_demo: list[float]  # per demo: distance to its nearest other demonstration
    median_rollout: float
    median_demo: float
    ratio: float  # median_rollout / median_demo


def memorization(rollouts: list[Trajectory], demos: list[Trajectory]) -> Memorization:
    """Memorization: for each rollout, the trajectory distance to its nearest training demonstration,
    against the same for each demonstration to its nearest other demonstration. A ratio of medians well
    below 1 means rollouts sit closer to some training demo than demos sit to each other: the policy
    replays demonstrations instead of reacting to the scene. 0 = a rollout equal to a demo."""
    if not demos:
        raise ValueError("memorization needs at least one training demonstration")
    r2d = [min(trajectory_distance(r, d) for d in demos) for r in rollouts]
    d2d = [
        min(trajectory_distance(a, b) for j, b in enumerate(demos) if j != i)
        for i, a in enumerate(demos)
        if len(demos) > 1
    ]
    med_r = float(np.median(r2d)) if r2d else float("nan")
    med_d = float(np.median(d2d)) if d2d else float("nan")
    ratio = med_r / med_d if d2d and med_d > 0 else float("nan")
    return Memorization(r2d, d2d, med_r, med_d, ratio)


# -- start sensitivity --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fit:
    slope: float
    intercept: float
    r2: float
    n: int


def linear_fit(x: np.ndarray, y: np.ndarray) -> Fit:
    """Least-squares line y = slope * x + intercept and its coefficient of determination R²."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    if n < 2 or np.ptp(x) == 0:
        return Fit(float("nan"), float("nan"), float("nan"), n)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 0.0
    return Fit(float(slope), float(intercept), r2, n)


def start_sensitivity(rollouts: list[Rollout]) -> dict[str, Fit]:
    """Start sensitivity: the hand's grasp position regressed on the object's start position across scene
    seeds, per horizontal axis (x forward, y left): slope and R². Slope about 1 with high R² means the
    hand goes where the object is; slope about 0 means the policy ignores where the object is."""
    obj = np.array([r.object_start for r in rollouts]).reshape(-1, 3)
    grasp = np.array([r.grasp for r in rollouts]).reshape(-1, 3)
    return {axis: linear_fit(obj[:, i], grasp[:, i]) for i, axis in enumerate("xy")}


def grasp_point(t: np.ndarray, hand: np.ndarray, held: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Grasp position: the hand's position at the first instant it holds the object (contacts of the thumb
    and another finger), or, when it never does, where it came closest to the object's start position
    ``target`` (where a grasp was attempted; the G1's hanging hand is lowest at rest, not at an attempt)."""
    hand = np.asarray(hand, float)
    held = np.asarray(held, bool)
    if held.any():
        i = int(np.argmax(held))
    else:
        i = int(np.argmin(np.linalg.norm(hand - np.asarray(target, float), axis=1)))
    return hand[i].copy()


# -- prompt sensitivity -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PromptSensitivity:
    distance: float  # mean trajectory distance, reference instruction vs another, same seed
    followed: int  # rollouts under another instruction that did that instruction's task (physics)
    n: int
    pairs: int


def prompt_sensitivity(reference: list[Rollout], others: list[Rollout]) -> PromptSensitivity:
    """Prompt sensitivity: the same scene seed run with the reference instruction and with instructions of
    other tasks. Distance: the mean trajectory distance between the reference rollout and each other-
    instruction rollout of the same seed (about 0 = the instruction is ignored). Followed: how many
    other-instruction rollouts achieved that instruction's own task, judged by its success predicates."""
    by_seed = {r.seed: r for r in reference}
    d = [trajectory_distance(by_seed[o.seed].traj, o.traj) for o in others if o.seed in by_seed]
    return PromptSensitivity(
        float(np.mean(d)) if d else float("nan"), sum(o.success for o in others), len(others), len(d)
    )


DEFINITIONS: dict[str, str] = {
    name: " ".join((fn.__doc__ or "").split())
    for name, fn in {
        "Success rate": success_rate,
        "Trajectory distance": trajectory_distance,
        "Identical trajectory every run": pairwise_spread,
        "Unique trajectories": distinct_count,
        "Memorization": memorization,
        "Start sensitivity": start_sensitivity,
        "Grasp position": grasp_point,
        "Prompt sensitivity": prompt_sensitivity,
    }.items()
}
