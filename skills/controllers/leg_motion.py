"""Driving a learned walker through waypoints: turn in place, walk straight, hold on the goal, stop.

The walker (envs/locomotion) tracks loosely: it answers a command about a second late, sidesteps at
half the commanded speed, drifts a few cm/s, and walks in circles when a turn is mixed with position
corrections (in its trained arm pose it also drifted 0.2 m/s forward and turned right at 40% of the
rate asked: figures below). It does three things
well, so a route is made of them: a turn in place on a pure yaw command, a straight walk forward or
backward with the heading steered while it walks, and stepping in place. Each waypoint is reached by
turning to face the way (or, on a short leg, to the waypoint's own heading), then walking there; at
the goal the policy keeps stepping in place under a small closed-loop correction, and it is asked to
stop only once the measured pose is within tolerance and the body is slow (the walker then waits for
both feet to be down before it freezes the legs). A run-away forward is ridden out, not braked.
"""

from __future__ import annotations

import math

import numpy as np

from envs.geometry import wrap_angle

# Its tuning is the walker's (``route`` in its YAML: envs/locomotion/config.py RouteDriving). For the
# Playground policy in its trained arm pose, measured on open floor (6 s each): a left turn tracked (0.5 ->
# 0.53 rad/s), a right one did not (-0.5 -> -0.2 while walking forward 0.19 m/s, -0.8 fell), so a right
# turn larger than ``right_turn_max_deg`` is made as a left turn the long way round. With its arms held
# back it turns right at -0.43 rad/s, but station walks arrived less often making right turns as right
# turns (docs/locomotion.md, "Arms held back"). It answers a forward command about a second late
# (``pos_lag_s``) and overshot an approach faster than ``approach_speed`` by 0.2 m.


class LegDriver:
    """Commands (vx, vy, yaw_rate) for a walker through ``waypoints`` (x, y, yaw), the last one the goal."""

    def __init__(self, walker, dt: float) -> None:
        self.walker, self.dt = walker, dt
        self.route = walker.cfg.route
        self.waypoints: list[np.ndarray] = []
        self.turning = False
        self._leg: np.ndarray | None = None
        self._long = False
        self._heading = 0.0
        self._integral = np.zeros(2)
        self._cmd = np.zeros(3)
        self._runaway = False

    def start(self, waypoints: list[np.ndarray]) -> None:
        self.waypoints = list(waypoints)
        self._leg = None
        self._cmd[:] = 0.0
        self._integral[:] = 0.0
        self._runaway = False

    @property
    def riding_out(self) -> bool:
        """A run-away forward is being ridden out (``runaway_speed``)."""
        return self._runaway

    @property
    def goal(self) -> np.ndarray:
        return self.waypoints[-1]

    def error(self, pose: np.ndarray, goal: np.ndarray | None = None) -> tuple[float, float]:
        """Distance (m) and heading error (rad) to ``goal`` (default: the route's goal)."""
        err = (self.goal if goal is None else goal) - pose
        return math.hypot(err[0], err[1]), abs(wrap_angle(err[2]))

    def command(self, pose: np.ndarray) -> np.ndarray:
        """Robot-frame command for this tick, ramped by ``max_accel``."""
        r = self.route
        wp = self.waypoints[0]
        if len(self.waypoints) > 1 and math.hypot(*(wp - pose)[:2]) < r.pass_m:
            self.waypoints.pop(0)
            wp = self.waypoints[0]
        last = len(self.waypoints) == 1
        if self._leg is not wp:  # a new leg: pick the heading it is walked at
            self._leg = wp
            self._long = math.hypot(*(wp - pose)[:2]) > r.long_leg_m
            self._heading = math.atan2(wp[1] - pose[1], wp[0] - pose[0]) if self._long else wp[2]
            self.turning = abs(wrap_angle(self._heading - pose[2])) > math.radians(r.turn_start_deg)
            self._integral[:] = 0.0
        err = wp[:2] - pose[:2]
        dist = math.hypot(*err)
        if self._long and dist > r.near_m:
            self._heading = math.atan2(err[1], err[0])
        elif self._long and last and dist <= r.near_m:
            self._long, self._heading = False, wp[2]  # the goal's own heading for the last steps
        yaw_rate = self.walker.yaw_rate
        yaw_err = wrap_angle(self._heading - pose[2])
        if self.turning and yaw_err < -math.radians(r.right_turn_max_deg):
            yaw_err += 2 * math.pi  # the long way round: it turns left well and right badly
        yaw_cmd = float(np.clip(r.yaw_gain * (yaw_err - r.yaw_lag_s * yaw_rate), -r.right_rate, r.turn_rate))
        c, s = math.cos(pose[2]), math.sin(pose[2])
        vel = self.walker.velocity
        forward = c * vel[0] + s * vel[1]
        # Not on the last leg: walking up to a table, a lunge ridden out pushed it into the table.
        if r.runaway_speed is not None and (self._runaway or (not last and forward > r.runaway_speed)):
            return self._ride_out(forward)
        if self.turning:
            if abs(yaw_err) < math.radians(r.turn_end_deg) and abs(yaw_rate) < 0.1:
                self.turning = False
            return self._ramp(np.array([0.0, 0.0, yaw_cmd]))
        if abs(yaw_err) > 2 * math.radians(r.turn_start_deg) and not (last and dist < r.near_m):
            self.turning = True  # pushed off its heading: turn back before walking on
        ahead = err - r.pos_lag_s * vel  # brake on where it is heading: it answers late
        local = np.array([c * ahead[0] + s * ahead[1], -s * ahead[0] + c * ahead[1]])
        v = r.pos_gain * local
        if dist < r.near_m:  # integral action cancels the drift, which a small command does not overcome
            self._integral = np.clip(self._integral + local * self.dt, -r.hold_i_max, r.hold_i_max)
            v = v + r.hold_i * self._integral
        if last and dist < r.near_m:  # holding on the goal, stepping in place
            v = np.clip(v, -r.hold_speed, r.hold_speed)
        else:
            top = r.walk_speed if self._long else r.approach_speed
            v = np.array([np.clip(v[0], -r.back_speed, top), np.clip(v[1], -r.side_speed, r.side_speed)])
        return self._ramp(np.array([v[0], v[1], yaw_cmd]))

    def _ride_out(self, forward: float) -> np.ndarray:
        """Follow a forward run-away at ``runaway_keep`` of its speed, easing off, until it has slowed."""
        r = self.route
        follow = r.runaway_keep * forward
        if not self._runaway:
            self._runaway, self._cmd = True, np.array([follow, 0.0, 0.0])
        self._cmd[0] = max(0.0, min(self._cmd[0] - r.runaway_decel * self.dt, follow))
        if self._cmd[0] == 0.0 and forward < 0.5 * r.runaway_speed:
            self._runaway = False
        self._integral[:] = 0.0
        return self._cmd.copy()

    def _ramp(self, v: np.ndarray) -> np.ndarray:
        step = self.route.max_accel * self.dt
        self._cmd = self._cmd + np.clip(v - self._cmd, -step, step)
        return self._cmd.copy()
