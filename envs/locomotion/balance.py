"""Ankle-strategy balance for a free-standing robot under stiff (stance) gains.

A frozen G1 is a statue whose centre of mass stands 3.3 cm in front of its heels, 12 cm behind its toes
(measured in the stand pose): a small backward velocity when the legs freeze after a walk, straightening
into the stand pose, or an arm swinging through a pour tips it over backward. Each control tick this
offsets both ankles' pitch and roll targets so that the capture point (the centre of mass plus its
velocity times sqrt(h/g)) moves to a set point over the feet (a little behind the soles' middle). Signs
measured on menagerie's G1: +0.05 rad of ankle pitch moves the centre of mass back, +0.05 of ankle roll
moves it left.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mujoco
import numpy as np

COM_HEIGHT_M = 0.7  # the G1's centre of mass above the soles in stance
VEL_TAU = 0.04  # s, smoothing of the centre of mass velocity


class AnkleBalance:
    """Ankle target offsets (pitch, roll) that keep the capture point over the feet's support."""

    def __init__(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        root: str,
        feet: Sequence[str],
        ankles: Sequence[str],
        gain: float,
        setpoint_m: float = 0.0,
        max_offset: tuple[float, float] = (0.12, 0.08),
    ) -> None:
        """``ankles``: the ankle joints' actuators (left pitch, left roll, right pitch, right roll);
        ``gain``: lean (rad) per rad of capture-point offset seen from the ankles; ``setpoint_m``: where
        the centre of mass is held, ahead of the soles' middle; ``max_offset``: the most (pitch, roll) it
        writes (rad)."""
        self.model, self.data, self.gain, self.setpoint = model, data, gain, setpoint_m
        self.max_pitch, self.max_roll = max_offset
        self._root = model.body(root).id
        # The soles' middles: the mean of each foot's collision geoms (the contacts flicker heel to toe).
        foot_ids = {model.body(f).id for f in feet}
        collides = model.geom_contype | model.geom_conaffinity
        on_feet = np.isin(model.geom_bodyid, list(foot_ids))
        self._soles = np.nonzero(on_feet & (collides > 0))[0]
        self._pitch = np.array([model.actuator(ankles[0]).id, model.actuator(ankles[2]).id])
        self._roll = np.array([model.actuator(ankles[1]).id, model.actuator(ankles[3]).id])
        self._time_const = math.sqrt(COM_HEIGHT_M / 9.81)
        self.reset()

    def reset(self) -> None:
        self._last_com: np.ndarray | None = None
        self._vel = np.zeros(2)
        self.offset = np.zeros(2)  # (pitch, roll) rad last written

    def support(self) -> np.ndarray:
        """The middle of both soles (world xy)."""
        return self.data.geom_xpos[self._soles, :2].mean(axis=0)

    def track(self, dt: float) -> None:
        """Follow the centre of mass velocity; call once per control tick, in any mode."""
        com = self.data.subtree_com[self._root][:2].copy()
        if self._last_com is not None:
            self._vel += min(1.0, dt / VEL_TAU) * ((com - self._last_com) / dt - self._vel)
        self._last_com = com

    def capture_offset(self) -> tuple[float, float]:
        """The capture point from the set point over the feet, (forward, left) in the robot's frame (m)."""
        err = self.data.subtree_com[self._root][:2] + self._time_const * self._vel - self.support()
        yaw = self._heading()
        fwd = math.cos(yaw) * err[0] + math.sin(yaw) * err[1] - self.setpoint
        left = -math.sin(yaw) * err[0] + math.cos(yaw) * err[1]
        return fwd, left

    def apply(self, pitch_base: np.ndarray, roll_base: np.ndarray) -> None:
        """Write the ankles' targets: ``*_base`` (left, right) plus the balancing offset."""
        fwd, left = self.capture_offset()
        self.offset[0] = min(self.max_pitch, max(-self.max_pitch, self.gain * fwd / COM_HEIGHT_M))
        self.offset[1] = min(self.max_roll, max(-self.max_roll, -self.gain * left / COM_HEIGHT_M))
        self.data.ctrl[self._pitch] = pitch_base + self.offset[0]
        self.data.ctrl[self._roll] = roll_base + self.offset[1]

    def _heading(self) -> float:
        r = self.data.xmat[self._root].reshape(3, 3)
        return math.atan2(r[1, 0], r[0, 0])

    def state(self) -> dict:
        return {
            "last_com": None if self._last_com is None else self._last_com.tolist(),
            "vel": self._vel.tolist(),
            "offset": self.offset.tolist(),
        }

    def restore(self, s: dict) -> None:
        self._last_com = None if s["last_com"] is None else np.array(s["last_com"])
        self._vel = np.array(s["vel"])
        self.offset = np.array(s["offset"])
