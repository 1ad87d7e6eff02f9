"""Liquid bookkeeping: flow out of tilted containers, where the stream lands, spills and reactions.

Model (per control tick): a container is a cylinder of radius r and height h whose liquid fills
``level = V / capacity * h`` along its axis. The free surface stays horizontal through that point of
the axis. Liquid leaves when the surface rises above the lowest point of the rim, at a weir-like rate
that grows with the excess height (so with tilt), capped by the volume actually above the rim. The
stream falls straight down from that rim point into whichever upright container's opening is below it;
otherwise it is spilled onto the surface underneath (a table or a tray) or the floor. Every ml removed
is either received or spilled, so volume is conserved to floating-point error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from envs.chemistry.rules import ChemistryRules

_G = 9.81
_WEIR_COEFF = 0.6  # discharge coefficient of a sharp-crested weir
_UPRIGHT_COS = 0.85  # a container catches liquid only when its axis is within ~32 deg of vertical
_EPS_ML = 1e-9


@dataclass(frozen=True)
class ContainerPose:
    """Where a container is this tick: the centre of its bottom face and its unit axis (world)."""

    base: np.ndarray
    axis: np.ndarray


@dataclass(frozen=True)
class Surface:
    """A horizontal rectangle that catches spilled liquid (a table top or a tray)."""

    name: str
    xmin: float
    xmax: float
    ymin: float
    ymax: float
    z: float

    def under(self, p: np.ndarray) -> bool:
        return self.xmin <= p[0] <= self.xmax and self.ymin <= p[1] <= self.ymax and p[2] >= self.z - 1e-3


@dataclass
class ContainerLiquid:
    """One container's shape and what it holds."""

    name: str
    radius: float
    height: float
    capacity_ml: float
    contents: dict[str, float]
    poured_out_ml: float = 0.0
    received_ml: float = 0.0
    foam_ml: float = 0.0

    @property
    def total_ml(self) -> float:
        return sum(self.contents.values())

    def take(self, ml: float) -> dict[str, float]:
        """Remove ``ml`` of the mixture, in proportion to what it holds."""
        total = self.total_ml
        if total <= _EPS_ML:
            return {}
        frac = min(1.0, ml / total)
        out = {liq: v * frac for liq, v in self.contents.items()}
        for liq, v in out.items():
            self.contents[liq] -= v
        self.poured_out_ml += sum(out.values())
        return out

    def add(self, mix: dict[str, float]) -> dict[str, float]:
        """Add a mixture; return the part that did not fit."""
        room = max(0.0, self.capacity_ml - self.total_ml)
        total = sum(mix.values())
        frac = 1.0 if total <= room else room / total
        for liq, v in mix.items():
            self.contents[liq] = self.contents.get(liq, 0.0) + v * frac
        self.received_ml += total * frac
        return {liq: v * (1.0 - frac) for liq, v in mix.items() if v * (1.0 - frac) > 0}


@dataclass
class ReactionRun:
    reaction: str
    container: str
    started_s: float
    foam_total_ml: float
    consumed_ml: float
    progress: float = 0.0


@dataclass
class Chemistry:
    """All liquid state of a scene, advanced once per control tick."""

    rules: ChemistryRules
    containers: dict[str, ContainerLiquid]
    surfaces: list[Surface]
    trays: dict[str, str] = field(default_factory=dict)  # container -> tray it stands in
    spills: dict[str, dict[str, float]] = field(default_factory=dict)  # location -> liquid -> ml
    reactions: list[ReactionRun] = field(default_factory=list)
    overflow_ml: dict[str, float] = field(default_factory=dict)  # tray/location -> foam ml
    stream: dict[str, np.ndarray] = field(default_factory=dict)  # container -> where its stream falls

    @property
    def spilled_ml(self) -> float:
        return sum(sum(m.values()) for m in self.spills.values())

    def step(self, dt: float, t: float, poses: dict[str, ContainerPose]) -> None:
        self.stream.clear()
        for name, c in self.containers.items():
            if c.total_ml > _EPS_ML:
                self._pour(c, poses[name], poses, dt)
        self._react(t, dt)

    def _pour(
        self, c: ContainerLiquid, pose: ContainerPose, poses: dict[str, ContainerPose], dt: float
    ) -> None:
        axis = pose.axis
        cos_t = float(axis[2])
        down = np.array([0.0, 0.0, -1.0]) - cos_t * axis  # -z projected onto the rim plane
        norm = float(np.linalg.norm(down))
        if norm < 1e-6:
            return  # upright or upside down exactly: a level rim, nothing leaves over it
        lip = pose.base + c.height * axis + c.radius * down / norm
        level = c.total_ml / c.capacity_ml * c.height
        surface_z = pose.base[2] + level * cos_t if cos_t > 0 else pose.base[2] + c.height
        excess = surface_z - lip[2]
        if excess <= 0:
            return
        weir_ml_s = _WEIR_COEFF * (2 * c.radius) * math.sqrt(2 * _G) * excess**1.5 * 1e6
        area_ml_per_m = c.capacity_ml / c.height / max(cos_t, 0.05)
        out_ml = min(weir_ml_s * dt, excess * area_ml_per_m, c.total_ml)
        mix = c.take(out_ml)
        self.stream[c.name] = lip
        self._land(c.name, lip, mix, poses)

    def _land(self, source: str, lip: np.ndarray, mix: dict[str, float], poses: dict[str, ContainerPose]) -> None:
        for name, other in self.containers.items():
            if name == source:
                continue
            p = poses[name]
            if p.axis[2] < _UPRIGHT_COS:
                continue
            mouth = p.base + other.height * p.axis
            if mouth[2] < lip[2] and math.hypot(lip[0] - mouth[0], lip[1] - mouth[1]) <= other.radius:
                rest = other.add(mix)
                if rest:
                    self._spill(self.trays.get(name) or self._surface_under(mouth), rest)
                return
        self._spill(self._surface_under(lip), mix)

    def _surface_under(self, p: np.ndarray) -> str:
        best, best_z = "floor", -math.inf
        for s in self.surfaces:
            if s.under(p) and s.z > best_z:
                best, best_z = s.name, s.z
        return best

    def _spill(self, where: str, mix: dict[str, float]) -> None:
        bucket = self.spills.setdefault(where, {})
        for liq, v in mix.items():
            bucket[liq] = bucket.get(liq, 0.0) + v

    def _react(self, t: float, dt: float) -> None:
        running = {r.container for r in self.reactions}
        for name, c in self.containers.items():
            if name in running:
                continue
            for rname, rule in self.rules.reactions.items():
                if rule.satisfied_by(c.contents):
                    consumed = c.contents.get(rule.consumes, 0.0)
                    self.reactions.append(
                        ReactionRun(rname, name, t, rule.foam_ml_per_ml * consumed, consumed)
                    )
                    break
        for run in self.reactions:
            if run.progress >= 1.0:
                continue
            rule = self.rules.reactions[run.reaction]
            c = self.containers[run.container]
            new = min(1.0, run.progress + dt / rule.duration_s)
            step = new - run.progress
            run.progress = new
            # The consumed reagent decomposes into water (2 H2O2 -> 2 H2O + O2): liquid volume is kept.
            moved = min(c.contents.get(rule.consumes, 0.0), run.consumed_ml * step)
            c.contents[rule.consumes] = c.contents.get(rule.consumes, 0.0) - moved
            c.contents["water"] = c.contents.get("water", 0.0) + moved
            c.foam_ml += run.foam_total_ml * step
            room = max(0.0, c.capacity_ml - c.total_ml)
            if c.foam_ml > room:
                where = self.trays.get(run.container, "floor")
                self.overflow_ml[where] = self.overflow_ml.get(where, 0.0) + (c.foam_ml - room)
                c.foam_ml = room
