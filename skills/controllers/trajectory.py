"""Joint-space motion: paths through IK waypoints played with a minimum-jerk time scaling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.robots.g1.g1_constants import ARM_SPEED_LIMIT
from skills.controllers.variation import current_variation

MAX_JOINT_SPEED = 0.8 * ARM_SPEED_LIMIT  # rad/s planned; the margin absorbs tracking overshoot
_PEAK = 1.875  # peak of d/dt of the minimum-jerk profile 10s^3 - 15s^4 + 6s^5 over unit time


def min_jerk(s: float) -> float:
    s = min(max(s, 0.0), 1.0)
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


@dataclass(frozen=True)
class JointPath:
    """A piecewise-linear path through joint waypoints, started and ended at rest."""

    points: np.ndarray  # (k, n) waypoints, the first being where the arm starts
    duration: float

    @classmethod
    def through(
        cls, points: list[np.ndarray], min_duration: float = 0.3, speed: float = MAX_JOINT_SPEED
    ) -> JointPath:
        """The slowest joint peaks at ``speed`` (or the path takes ``min_duration``), both scaled by the
        expert's speed factor (skills/controllers/variation.py)."""
        factor = current_variation().speed
        speed, min_duration = speed * factor, min_duration / factor
        pts = np.asarray(points, float)
        length = float(np.abs(np.diff(pts, axis=0)).max(axis=1).sum()) if len(pts) > 1 else 0.0
        return cls(pts, max(min_duration, _PEAK * length / speed))

    def at(self, t: float) -> np.ndarray:
        if len(self.points) == 1 or self.duration <= 0:
            return self.points[-1].copy()
        steps = np.abs(np.diff(self.points, axis=0)).max(axis=1)
        arc = np.concatenate([[0.0], np.cumsum(steps)])
        if arc[-1] <= 0:
            return self.points[-1].copy()
        s = min_jerk(t / self.duration) * arc[-1]
        i = int(np.clip(np.searchsorted(arc, s, side="right") - 1, 0, len(steps) - 1))
        w = 0.0 if steps[i] <= 0 else (s - arc[i]) / steps[i]
        return self.points[i] + w * (self.points[i + 1] - self.points[i])

    @property
    def end(self) -> np.ndarray:
        return self.points[-1]


@dataclass(frozen=True)
class Step:
    """One phase of a scripted motion: an arm path and/or a finger move over ``duration`` seconds."""

    duration: float
    arm: JointPath | None = None
    hand: np.ndarray | None = None  # finger targets reached (linearly) by the end of the step


class Script:
    """Plays a list of steps against elapsed time; holds the last targets once done."""

    def __init__(self, steps: list[Step], arm: np.ndarray, hand: np.ndarray) -> None:
        self.steps = [Step(max(s.duration, s.arm.duration if s.arm else 0.0), s.arm, s.hand) for s in steps]
        self.starts = np.concatenate([[0.0], np.cumsum([s.duration for s in self.steps])])
        self._arm0, self._hand0 = [arm], [hand]
        for s in self.steps:  # targets at the start of each step
            self._arm0.append(s.arm.end if s.arm else self._arm0[-1])
            self._hand0.append(s.hand if s.hand is not None else self._hand0[-1])

    @property
    def duration(self) -> float:
        return float(self.starts[-1])

    def at(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(arm, hand) targets ``t`` seconds into the script."""
        i = int(np.searchsorted(self.starts, t, side="right") - 1)
        if i >= len(self.steps):
            return self._arm0[-1].copy(), self._hand0[-1].copy()
        step, local = self.steps[i], t - self.starts[i]
        arm = step.arm.at(local) if step.arm else self._arm0[i]
        hand = self._hand0[i]
        if step.hand is not None:
            w = min(1.0, local / step.duration) if step.duration > 0 else 1.0
            hand = hand + w * (step.hand - hand)
        return arm.copy(), hand.copy()
