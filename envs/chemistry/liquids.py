"""Liquid bookkeeping: flow out of tilted containers, where the stream lands, spills and reactions.

Model (per control tick), with tilt ``θ`` the angle between a container's axis and world up:

* A container is a cylinder of radius ``r`` and height ``h`` holding ``V`` ml of a well-mixed liquid.
  Its fill ``level = V / capacity * h`` is measured along the axis from the bottom (from the mouth
  when the container is upside down, θ > 90°). The free surface is horizontal and passes through the
  axis at that level (exact for a tilted cylinder while the surface cuts neither end face; beyond that
  it is an approximation that lets a steeply tilted container drain completely).
* The lip is the lowest point of the rim: ``top + r * d`` with ``d`` the unit down-slope direction in
  the rim plane (world -z projected onto that plane). Liquid leaves only when the surface is above the
  lip, by the head ``H = r sinθ − (h − level) cosθ``, i.e. once ``level + r tanθ > h``: an upright
  container (θ = 0) never loses liquid, and ``H`` grows with tilt. Past 90° the mouth faces down and
  nothing holds the liquid back; there ``H = r + level |cosθ|`` (continuous at 90°, still growing),
  so the flow keeps rising with tilt up to upside down and the container drains.
* The flow is that of a sharp-crested weir, ``Q = 2/3 · Cd · 2r · sqrt(2g) · H^1.5``, for one tick,
  capped by the volume above the lip (``H`` times the horizontal cross-section) and by ``V``.
* The stream falls straight down from the lip into the highest upright container (axis within ~32°
  of vertical) whose mouth is below the lip and within its radius horizontally. What does not fit in
  that container overflows onto the tray it stands in (or the surface under it). A stream that finds
  no opening is spilled onto the highest surface under the lip (a table or a tray), else the floor.
  Every ml removed is either received or spilled, so ``Σ poured_out = Σ received + spilled`` and the
  total liquid only ever drops by what was spilled (to floating-point error).
* Reactions (rules.yaml): when a vessel holds every required group at or above its minimum, the rule
  fires there (a vessel runs one reaction at a time; it can fire again once that run is over). Over
  ``duration_s`` the consumed liquid present at the start turns into the same volume of water, and
  ``foam_ml_per_ml`` ml of foam per ml of it grows linearly; foam beyond the vessel's free room
  overflows onto its tray (or the surface under it) and is counted in ``overflow_ml`` (by place) and
  in the vessel's ``foam_overflow_ml``.
  Foam is not liquid: it is neither poured nor spilled.
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
    foam_overflow_ml: float = 0.0  # foam that has run over this container's rim

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
        self._react(t, dt, poses)

    def _pour(
        self, c: ContainerLiquid, pose: ContainerPose, poses: dict[str, ContainerPose], dt: float
    ) -> None:
        axis = np.asarray(pose.axis, dtype=float)
        cos_t = float(axis[2])
        down = np.array([0.0, 0.0, -1.0]) + cos_t * axis  # world -z projected onto the rim plane
        sin_t = float(np.linalg.norm(down))  # |(-z) - ((-z)·a) a| = sin(tilt)
        top = pose.base + c.height * axis
        lip = top + c.radius * down / sin_t if sin_t > 1e-9 else top  # (level rim: any point of it)
        level = c.total_ml / c.capacity_ml * c.height
        # Head of the free surface over the lip (see the module docstring).
        excess = c.radius * sin_t - (c.height - level) * cos_t if cos_t >= 0 else c.radius - level * cos_t
        if excess <= 0:
            return
        weir_ml_s = 2 / 3 * _WEIR_COEFF * (2 * c.radius) * math.sqrt(2 * _G) * excess**1.5 * 1e6
        above_ml = excess * c.capacity_ml / c.height / cos_t if cos_t > 0.05 else c.total_ml
        out_ml = min(weir_ml_s * dt, above_ml, c.total_ml)
        mix = c.take(out_ml)
        self.stream[c.name] = lip
        self._land(c.name, lip, mix, poses)

    def _land(
        self, source: str, lip: np.ndarray, mix: dict[str, float], poses: dict[str, ContainerPose]
    ) -> None:
        best, best_z = None, -math.inf
        for name, other in self.containers.items():
            if name == source:
                continue
            p = poses[name]
            if p.axis[2] < _UPRIGHT_COS:
                continue
            mouth = p.base + other.height * p.axis
            inside = math.hypot(lip[0] - mouth[0], lip[1] - mouth[1]) <= other.radius
            if inside and best_z < mouth[2] < lip[2]:
                best, best_z = name, mouth[2]
        if best is None:
            self._spill(self._surface_under(lip), mix)
            return
        rest = self.containers[best].add(mix)
        if rest:
            self._spill(self._catch_basin(best, poses[best]), rest)

    def _catch_basin(self, name: str, pose: ContainerPose) -> str:
        """Where liquid or foam running over a container's rim ends up: its tray, else what is under it."""
        mouth = pose.base + self.containers[name].height * pose.axis
        return self.trays.get(name) or self._surface_under(mouth)

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

    def _react(self, t: float, dt: float, poses: dict[str, ContainerPose]) -> None:
        busy = {r.container for r in self.reactions if r.progress < 1.0}
        for name, c in self.containers.items():
            if name in busy:
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
                where = self._catch_basin(run.container, poses[run.container])
                self.overflow_ml[where] = self.overflow_ml.get(where, 0.0) + (c.foam_ml - room)
                c.foam_overflow_ml += c.foam_ml - room
                c.foam_ml = room
