"""Actuator gains by owner: each joint group runs under a named profile, switched with a short blend.

Profiles: ``stance`` (legs, waist) and ``manipulation`` (arms, hands) are the compiled model's own gains
(stiff: the lab's stance kp on the lower body, menagerie's kp 500 on the arms); ``walk`` is what a walker
was trained with (soft kp, no kv, joint damping). docs/locomotion.md has the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import mujoco
import numpy as np

BLEND_TICKS = 5  # control ticks over which a group's gains move to a new profile
STIFF = ("stance", "manipulation")
LOWER_BODY = ("left_leg", "right_leg", "waist")


def default_profile(group: str) -> str:
    return "stance" if group in LOWER_BODY else "manipulation"


class GainTable:
    """Per-actuator kp, kv, joint damping and frictionloss, blended toward each group's profile."""

    def __init__(self, model: mujoco.MjModel, groups: Mapping[str, np.ndarray]) -> None:
        self.model = model
        self.groups = dict(groups)  # group -> actuator ids
        acts = np.concatenate(list(self.groups.values()))
        self._acts = acts
        self._dofs = model.jnt_dofadr[model.actuator_trnid[acts, 0]]
        stiff = np.stack(
            [
                model.actuator_gainprm[acts, 0],
                -model.actuator_biasprm[acts, 2],
                model.dof_damping[self._dofs],
                model.dof_frictionloss[self._dofs],
            ],
            axis=1,
        )
        self._profiles: dict[str, np.ndarray] = {p: stiff.copy() for p in STIFF}
        self._slot = {int(a): i for i, a in enumerate(acts)}
        self.current = stiff.copy()
        self._start = stiff.copy()
        self._target = stiff.copy()
        self._left = 0
        self.profile = {g: default_profile(g) for g in self.groups}

    def add_profile(self, name: str, values: Mapping[int, tuple[float, float, float, float]]) -> None:
        """A profile from actuator id -> (kp, kv, damping, frictionloss); other actuators keep stiff gains."""
        table = self._profiles["stance"].copy()
        for act, v in values.items():
            table[self._slot[act]] = v
        self._profiles[name] = table

    @property
    def profiles(self) -> list[str]:
        return sorted(self._profiles)

    def set(self, profiles: Mapping[str, str], instant: Iterable[str] = ()) -> None:
        """Move groups to profiles; ``instant`` groups switch this tick, the others blend over BLEND_TICKS."""
        instant = set(instant)
        changed = {g: p for g, p in profiles.items() if self.profile.get(g) != p}
        if not changed:
            return
        for g, p in changed.items():
            if p not in self._profiles:
                raise ValueError(f"unknown gain profile '{p}' for group '{g}'; profiles: {self.profiles}")
            if g not in self.groups:
                raise KeyError(f"unknown joint group '{g}' in gains; groups: {', '.join(self.groups)}")
        self._start = self.current.copy()
        for g, p in changed.items():
            self.profile[g] = p
            rows = [self._slot[int(a)] for a in self.groups[g]]
            self._target[rows] = self._profiles[p][rows]
            if g in instant:
                self._start[rows] = self._target[rows]
        self._left = BLEND_TICKS
        self._blend()

    def tick(self) -> None:
        """Advance a running blend by one control tick."""
        if self._left > 0:
            self._left -= 1
            self._blend()

    def _blend(self) -> None:
        s = 1.0 - self._left / BLEND_TICKS
        self.current = self._start + s * (self._target - self._start)
        self._write()

    def _write(self) -> None:
        m, a = self.model, self._acts
        m.actuator_gainprm[a, 0] = self.current[:, 0]
        m.actuator_biasprm[a, 1] = -self.current[:, 0]
        m.actuator_biasprm[a, 2] = -self.current[:, 1]
        m.dof_damping[self._dofs] = self.current[:, 2]
        m.dof_frictionloss[self._dofs] = self.current[:, 3]

    @property
    def blending(self) -> bool:
        return self._left > 0

    def state(self) -> dict:
        return {
            "profile": dict(self.profile),
            "current": self.current.tolist(),
            "target": self._target.tolist(),
            "start": self._start.tolist(),
            "left": self._left,
        }

    def restore(self, s: dict) -> None:
        self.profile = dict(s["profile"])
        self.current, self._target, self._start = (np.array(s[k]) for k in ("current", "target", "start"))
        self._left = int(s["left"])
        self._write()
