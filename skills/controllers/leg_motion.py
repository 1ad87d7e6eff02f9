"""Driving a learned walker through waypoints: turn in place, walk straight, hold on the goal, stop.

The walker (envs/locomotion) tracks loosely: it answers a command late, drifts ~0.15 m/s at a zero
command, sidesteps at a quarter of the commanded speed, turns left far better than right (figures
below), and walks in circles when a turn is mixed with position corrections. It does three things
well, so a route is made of them: a turn in place on a pure yaw command, a straight walk forward or
backward with the heading steered while it walks, and stepping in place. Each waypoint is reached by
turning to face the way (or, on a short leg, to the waypoint's own heading), then walking there; at
the goal the policy keeps stepping in place under a small closed-loop correction, and it is asked to
stop only once the measured pose is within tolerance and the body is slow (the walker then waits for
both feet to be down before it freezes the legs).
"""

from __future__ import annotations

import math

import numpy as np

LONG_LEG_M = 1.0  # a leg longer than this is walked facing along it; a shorter one at the waypoint's heading
TURN_START = math.radians(8.0)  # a heading error above this turns in place before walking ...
TURN_END = math.radians(2.5)  # ... until it is below this and the turn has come to rest
TURN_RATE = 0.5  # rad/s, the most a turn in place asks
# Measured on open floor (6 s each, the YAML's bias on vx): a left turn tracks (0.25 -> 0.28 rad/s, 0.5 ->
# 0.53), a right one does not (-0.25 -> -0.09, -0.5 -> -0.2 while walking forward 0.19 m/s, -0.8 fell).
# So a right turn larger than RIGHT_TURN_MAX is made as a left turn the long way round, and right
# corrections are asked no faster than RIGHT_RATE.
RIGHT_TURN_MAX = math.radians(20.0)
RIGHT_RATE = 0.3
YAW_GAIN = 1.5  # yaw rate per rad of heading error
YAW_LAG_S = 0.5  # s: the heading error is taken where the measured turn rate carries it this far ahead
WALK_SPEED = 0.35  # m/s forward on a long leg (the walker measured ~0.29 m/s)
APPROACH_SPEED = 0.15  # m/s on a short leg: it answers ~1 s late and overshot a faster approach by 0.2 m
BACK_SPEED = 0.3  # m/s backward (it answers about half of a backward command)
SIDE_SPEED = 0.15
POS_GAIN = 0.8  # m/s per m of error
POS_LAG_S = 0.8  # s: the position error is taken where the measured velocity carries it this far ahead
NEAR_M = 0.3  # on a long leg the heading stops following the bearing this close to the waypoint
PASS_M = 0.15  # an intermediate waypoint is passed this close
HOLD_SPEED = 0.12  # m/s, the most a correction asks while holding on the goal
HOLD_I = 0.5  # per s, integral action on the error near a waypoint
HOLD_I_MAX = 0.3  # m s
MAX_ACCEL = 1.0  # m/s^2 and rad/s^2 on the command


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


class LegDriver:
    """Commands (vx, vy, yaw_rate) for a walker through ``waypoints`` (x, y, yaw), the last one the goal."""

    def __init__(self, walker, dt: float) -> None:
        self.walker, self.dt = walker, dt
        self.waypoints: list[np.ndarray] = []
        self.turning = False
        self._leg: np.ndarray | None = None
        self._long = False
        self._heading = 0.0
        self._integral = np.zeros(2)
        self._cmd = np.zeros(3)

    def start(self, waypoints: list[np.ndarray]) -> None:
        self.waypoints = list(waypoints)
        self._leg = None
        self._cmd[:] = 0.0
        self._integral[:] = 0.0

    @property
    def goal(self) -> np.ndarray:
        return self.waypoints[-1]

    def error(self, pose: np.ndarray) -> tuple[float, float]:
        """Distance (m) and heading error (rad) to the goal."""
        err = self.goal - pose
        return math.hypot(err[0], err[1]), abs(_wrap(err[2]))

    def command(self, pose: np.ndarray) -> np.ndarray:
        """Robot-frame command for this tick, ramped by MAX_ACCEL."""
        wp = self.waypoints[0]
        if len(self.waypoints) > 1 and math.hypot(*(wp - pose)[:2]) < PASS_M:
            self.waypoints.pop(0)
            wp = self.waypoints[0]
        last = len(self.waypoints) == 1
        if self._leg is not wp:  # a new leg: pick the heading it is walked at
            self._leg = wp
            self._long = math.hypot(*(wp - pose)[:2]) > LONG_LEG_M
            self._heading = math.atan2(wp[1] - pose[1], wp[0] - pose[0]) if self._long else wp[2]
            self.turning = abs(_wrap(self._heading - pose[2])) > TURN_START
            self._integral[:] = 0.0
        err = wp[:2] - pose[:2]
        dist = math.hypot(*err)
        if self._long and dist > NEAR_M:
            self._heading = math.atan2(err[1], err[0])
        elif self._long and last and dist <= NEAR_M:
            self._long, self._heading = False, wp[2]  # the goal's own heading for the last steps
        yaw_rate = self.walker.yaw_rate
        yaw_err = _wrap(self._heading - pose[2])
        if self.turning and yaw_err < -RIGHT_TURN_MAX:
            yaw_err += 2 * math.pi  # the long way round: it turns left well and right badly
        yaw_cmd = float(np.clip(YAW_GAIN * (yaw_err - YAW_LAG_S * yaw_rate), -RIGHT_RATE, TURN_RATE))
        if self.turning:
            if abs(yaw_err) < TURN_END and abs(yaw_rate) < 0.1:
                self.turning = False
            return self._ramp(np.array([0.0, 0.0, yaw_cmd]))
        if abs(yaw_err) > 2 * TURN_START and not (last and dist < NEAR_M):
            self.turning = True  # pushed off its heading: turn back before walking on
        c, s = math.cos(pose[2]), math.sin(pose[2])
        vel = self.walker.velocity
        ahead = err - POS_LAG_S * vel  # brake on where it is heading: it answers late
        local = np.array([c * ahead[0] + s * ahead[1], -s * ahead[0] + c * ahead[1]])
        v = POS_GAIN * local
        if dist < NEAR_M:  # integral action cancels the drift, which a small command does not overcome
            self._integral = np.clip(self._integral + local * self.dt, -HOLD_I_MAX, HOLD_I_MAX)
            v = v + HOLD_I * self._integral
        if last and dist < NEAR_M:  # holding on the goal, stepping in place
            v = np.clip(v, -HOLD_SPEED, HOLD_SPEED)
        else:
            top = WALK_SPEED if self._long else APPROACH_SPEED
            v = np.array([np.clip(v[0], -BACK_SPEED, top), np.clip(v[1], -SIDE_SPEED, SIDE_SPEED)])
        return self._ramp(np.array([v[0], v[1], yaw_cmd]))

    def _ramp(self, v: np.ndarray) -> np.ndarray:
        step = MAX_ACCEL * self.dt
        self._cmd = self._cmd + np.clip(v - self._cmd, -step, step)
        return self._cmd.copy()
