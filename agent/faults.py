"""Fault injection for tests and evals, named in a small syntax: ``KIND:key=value,key=value``.

  drop:hand=left,during=walk_to#2,after=1    knock what the left hand holds out of it, 1 s into the
                                             second walk_to call
  drop:hand=left,during=walk_to,when=holding 1 s into the first walk_to during which that hand holds
                                             something
  displace:object=red_block,dx=0.05,dy=0,before=pick   move an object just before a skill starts
  displace:object=flask,dx=0.15,during=pour,after=4    move it 4 s into pour
  block:station=shelf                        put an obstacle on a station's working spot
  slow:skill=pick,ticks=5                    that skill's executor answers 5 control ticks late
  noanswer:skill=pick                        that skill's executor never answers
  nan:after=0.5,during=pick                  write NaN into the simulator state
  push:dx=0.5,dy=0,during=walk_to,after=2    shove the pelvis: an external force (xfrc_applied) over
                                             ``duration`` s (0.1) that changes the body's velocity by
                                             (dx, dy) m/s in the world frame

``during``/``before`` name a call: ``SKILL`` is its first call, ``SKILL#N`` its N-th (counted over the
run). Every fault records what became of it: a ``fault_applied`` event, or ``fault_not_applicable``
with the reason (an empty hand, no such call in the run) -- never silence.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from envs.validation import format_validation_error

CALL_REF = re.compile(r"^(?P<skill>[a-z_]+)(?:#(?P<nth>[1-9][0-9]*))?$")


class FaultError(ValueError):
    """A fault string or YAML entry that cannot be used."""


def _call_ref(value: str | None) -> str | None:
    if value is None:
        return value
    m = CALL_REF.match(value)
    if not m:
        raise ValueError("expected SKILL or SKILL#N (the N-th call of SKILL, e.g. walk_to#2)")
    from skills.registry import all_skills

    names = [s.name for s in all_skills()]
    if m["skill"] not in names:
        raise ValueError(f"unknown skill '{m['skill']}'; skills: {', '.join(names)}")
    return value


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")
    during: str | None = None
    after: Annotated[float, Field(ge=0)] = 1.0
    _text: str = ""
    _seen: dict[str, int] = {}
    _anchor: float | None = None
    _call: str | None = None
    _fired: bool = False
    _reported: bool = False

    @field_validator("during")
    @classmethod
    def _check_during(cls, value: str | None) -> str | None:
        return _call_ref(value)

    def _targets(self, ref: str | None, call) -> bool:
        """Whether ``call`` is the call ``ref`` names (None: any call); counts the calls it has seen."""
        if ref is None:
            return True
        m = CALL_REF.match(ref)
        assert m is not None
        if call.spec.name != m["skill"]:
            return False
        self._seen = {**self._seen, ref: self._seen.get(ref, 0) + 1}
        if m["nth"] is None:
            return self._seen[ref] == 1 or self._every_call()
        return self._seen[ref] == int(m["nth"])

    def _every_call(self) -> bool:
        """Whether a bare ``SKILL`` names each of its calls in turn (until the fault applies)."""
        return False

    def before_start(self, rt, call) -> None:
        if not self._fired and self._targets(self.during, call) and self._anchor is None:
            self._anchor, self._call = rt.world.time_s, call.id

    def wrap(self, call, executor):
        return executor

    def on_tick(self, rt) -> None:
        if (
            not self._fired
            and self._anchor is not None
            and rt.world.time_s >= self._anchor + self.after - 1e-9
        ):
            self._fired = True
            self.fire(rt)

    def fire(self, rt) -> None:
        raise NotImplementedError

    def applied(self, rt, what: str, call: str | None = None) -> None:
        self._report(rt, "fault_applied", what, call)

    def not_applicable(self, rt, why: str, call: str | None = None) -> None:
        self._report(rt, "fault_not_applicable", why, call)

    def _report(self, rt, kind: str, text: str, call: str | None) -> None:
        self._reported = True
        data = {"fault": self._text, "call_id": call or self._call, "sim_time_s": round(rt.world.time_s, 4)}
        rt.fault_event(kind, {**data, "detail" if kind == "fault_applied" else "reason": text})

    def unused(self) -> str | None:
        """Why this fault never did anything, at the end of a run (None: it was applied or reported)."""
        if self._reported:
            return None
        return f"no {self.during} call in this run" if self.during else "the run ended before it applied"


def _teleport(env, name: str, pos: np.ndarray) -> None:
    adr = env._free[name]
    env.data.qpos[adr : adr + 3] = pos
    dof = env.model.jnt_dofadr[env.model.joint(f"{name}_free").id]
    env.data.qvel[dof : dof + 6] = 0.0


class DropFault(_Fault):
    """Knocks what a hand holds out of it: ``out`` m further out to that hand's side, ``down`` m lower
    (enough to clear the fingers; over a table it lands there, in reach). ``when=holding`` waits for a
    matching call during which the hand holds something; without it an empty hand is recorded as
    ``fault_not_applicable`` and the fault is spent."""

    kind: Literal["drop"] = "drop"
    hand: Literal["left", "right"] = "right"
    when: Literal["holding"] | None = None
    out: Annotated[float, Field(ge=0, le=0.5)] = 0.07
    down: Annotated[float, Field(ge=0, le=0.5)] = 0.03

    def _every_call(self) -> bool:
        return self.when == "holding"

    def unused(self) -> str | None:
        if self._reported or self.when != "holding":
            return super().unused()
        call = f"{self.during} call" if self.during else "call"
        return f"no {call} in this run with the {self.hand} hand holding something {self.after} s into it"

    def fire(self, rt) -> None:
        obj = rt.world.robot.holding.get(self.hand) or rt.monitors.carrying.get(self.hand)
        if obj is None:
            if self.when == "holding":  # re-arm for the next matching call
                self._fired, self._anchor = False, None
                if self.during and "#" in self.during:
                    self.not_applicable(rt, f"the {self.hand} hand held nothing {self.after} s into it")
                return
            self.not_applicable(rt, f"the {self.hand} hand held nothing {self.after} s into the call")
            return
        yaw = rt.world.robot.base_pose[2]
        side = 1.0 if self.hand == "left" else -1.0
        # Out to the hand's side in the robot's frame (its left is +y when yaw = 0).
        offset = np.array([-np.sin(yaw) * self.out * side, np.cos(yaw) * self.out * side, -self.down])
        _teleport(rt.env, obj, np.array(rt.world.objects[obj].pos) + offset)
        self.applied(rt, f"knocked {obj} out of the {self.hand} hand")


class DisplaceFault(_Fault):
    """Moves an object just before a skill starts (``before``), or ``after`` s into one (``during``)."""

    kind: Literal["displace"] = "displace"
    object: str
    dx: float = 0.05
    dy: float = 0.0
    before: str = "pick"

    @field_validator("before")
    @classmethod
    def _check_before(cls, value: str) -> str | None:
        return _call_ref(value)

    def before_start(self, rt, call) -> None:
        if self.during is not None:  # mid-call: fired from on_tick once ``after`` s have passed
            super().before_start(rt, call)
        elif not self._fired and self._targets(self.before, call):
            self._fired, self._call = True, call.id
            self.fire(rt)

    def fire(self, rt) -> None:
        import mujoco

        pos = np.array(rt.world.objects[self.object].pos) + np.array([self.dx, self.dy, 0.005])
        _teleport(rt.env, self.object, pos)
        mujoco.mj_forward(rt.env.model, rt.env.data)
        rt.world = rt.env.world_state()
        self.applied(rt, f"moved {self.object} by ({self.dx}, {self.dy}) m")

    def unused(self) -> str | None:
        if self._reported or self.during is not None:
            return super().unused()
        return f"no {self.before} call in this run"


class BlockFault(_Fault):
    kind: Literal["block"] = "block"
    station: str

    def before_start(self, rt, call) -> None:
        if (
            not self._fired
            and call.spec.name == "walk_to"
            and getattr(call.args, "station", None) == self.station
        ):
            self._fired = True
            x, y, _ = rt.env.scene.stations[self.station].robot_pose
            rt.env.place_obstacle((x, y))
            self.applied(rt, f"an obstacle on the {self.station} station's working spot", call.id)

    def unused(self) -> str | None:
        return None if self._reported else f"no walk_to {self.station} in this run"


class _Late:
    """An executor whose answers arrive ``ticks`` control ticks after it was asked, computed from the
    observation of the tick it was asked on; meanwhile it commands nothing (its groups keep their last
    targets). ``ticks=None`` never answers. Counted in ticks, not wall time, so evals stay reproducible."""

    def __init__(self, inner, ticks: int | None) -> None:
        self.inner, self.ticks = inner, ticks
        self.groups = inner.groups
        self._pending: dict | None = None
        self._wait = 0
        self.late_ticks = 0

    def reset(self, obs, world) -> None:
        self.inner.reset(obs, world)

    def act(self, obs, world) -> dict:
        if self.ticks is None:
            return {}
        if self._pending is None:
            self._pending, self._wait = dict(self.inner.act(obs, world)), self.ticks
        if self._wait > 0:
            self._wait -= 1
            self.late_ticks += 1
            return {}
        answer, self._pending = self._pending, None
        return answer

    @property
    def finished(self) -> bool:
        return self.ticks is not None and self.inner.finished

    def close(self) -> None:
        self.inner.close()


class SlowFault(_Fault):
    kind: Literal["slow"] = "slow"
    skill: str
    ticks: Annotated[int, Field(ge=1, le=500)] = 5

    def before_start(self, rt, call) -> None:
        if call.spec.name == self.skill and not self._reported:
            self.applied(rt, f"{self.skill} answers {self.ticks} control ticks late", call.id)

    def wrap(self, call, executor):
        return _Late(executor, self.ticks) if call.spec.name == self.skill else executor

    def unused(self) -> str | None:
        return None if self._reported else f"no {self.skill} call in this run"


class NoAnswerFault(_Fault):
    kind: Literal["noanswer"] = "noanswer"
    skill: str

    def before_start(self, rt, call) -> None:
        if call.spec.name == self.skill and not self._reported:
            self.applied(rt, f"{self.skill} never answers", call.id)

    def wrap(self, call, executor):
        return _Late(executor, None) if call.spec.name == self.skill else executor

    def unused(self) -> str | None:
        return None if self._reported else f"no {self.skill} call in this run"


class PushFault(_Fault):
    """A shove on the pelvis, like the pushes the walker was trained with (Playground kicks 0-3 m/s)."""

    kind: Literal["push"] = "push"
    dx: Annotated[float, Field(ge=-3, le=3)] = 0.5
    dy: Annotated[float, Field(ge=-3, le=3)] = 0.0
    duration: Annotated[float, Field(gt=0, le=1)] = 0.1
    _until: float | None = None

    def fire(self, rt) -> None:
        env = rt.env
        pelvis = env.model.body("pelvis").id
        mass = float(env.model.body_subtreemass[pelvis])
        env.data.xfrc_applied[pelvis, :2] = mass * np.array([self.dx, self.dy]) / self.duration
        self._until = rt.world.time_s + self.duration

    def on_tick(self, rt) -> None:
        super().on_tick(rt)
        if self._until is not None and rt.world.time_s >= self._until - 1e-9:
            rt.env.data.xfrc_applied[rt.env.model.body("pelvis").id, :] = 0.0
            self._until = None


class NanFault(_Fault):
    kind: Literal["nan"] = "nan"

    def fire(self, rt) -> None:
        rt.env.data.qvel[0] = math.nan
        self.applied(rt, "NaN in the simulator state")


Fault = Annotated[
    DropFault | DisplaceFault | BlockFault | SlowFault | NoAnswerFault | NanFault | PushFault,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Fault)
KINDS = ("drop", "displace", "block", "slow", "noanswer", "nan", "push")


def parse_fault(text: str | dict[str, Any]) -> Any:
    """A fault from ``kind:key=value,...`` (CLI) or a mapping with ``kind`` (YAML)."""
    if isinstance(text, str):
        kind, _, rest = text.strip().partition(":")
        raw: dict[str, Any] = {"kind": kind}
        for part in filter(None, rest.split(",")):
            key, eq, value = part.partition("=")
            if not eq:
                raise FaultError(f"fault '{text}': expected key=value, got '{part}'")
            raw[key.strip()] = value.strip()
    else:
        raw = dict(text)
    if raw.get("kind") not in KINDS:
        raise FaultError(f"fault '{text}': unknown kind '{raw.get('kind')}'; kinds: {', '.join(KINDS)}")
    try:
        fault = _ADAPTER.validate_python(raw)
    except ValidationError as e:
        raise FaultError(f"fault '{text}':\n{format_validation_error(e)}") from None
    fault._text = text if isinstance(text, str) else ",".join(f"{k}={v}" for k, v in raw.items())
    return fault
