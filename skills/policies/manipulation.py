"""Who does the arms' work in manipulation skills: the scripted controllers or a learned policy.

A backend is chosen by a string, ``--manipulation SPEC`` on the CLI: ``scripted`` (the default),
``policy:CKPT`` (a Tandem VLA checkpoint run in-process) or a scheme another module registers with
``register_scheme(prefix, factory)`` (e.g. ``groot://HOST:PORT``). A backend answers for the skills it
knows (pick, place) and leaves the rest to the skills' own executors. The judges never change: a pick
run by a policy succeeds when the physics says the object is held and lifted.

The policy is told what to do in words, rendered from the call and the plan around it: a pick whose
object is placed next is "move the red block to the yellow zone" (the task the demonstrations were
recorded under), a place is the same sentence, a lone pick is "pick up the red block".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from envs.base import Observation, WorldState
from skills.executor import Executor

Upcoming = Sequence[tuple[str, Any]]  # (skill, args) of the plan's calls still to come


class Manipulation(Protocol):
    name: str

    def executor(self, env, skill: str, args: Any, upcoming: Upcoming = ()) -> Executor | None:
        """An executor for this call, or None to run the skill's own (scripted) executor."""

    def task_executor(self, env, instruction: str, steps: int) -> Executor | None:
        """The whole task on every joint group of the env's robot for ``steps`` ticks, for a robot without
        a skill library (the SO-100 arm); None: the task's scripted expert runs it."""


class Scripted:
    name = "scripted"

    def executor(self, env, skill: str, args: Any, upcoming: Upcoming = ()) -> Executor | None:
        return None

    def task_executor(self, env, instruction: str, steps: int) -> Executor | None:
        return None


_SCHEMES: dict[str, Callable[[str], Manipulation]] = {}


def register_scheme(prefix: str, factory: Callable[[str], Manipulation]) -> None:
    """``factory(spec)`` builds a backend from a spec starting with ``prefix`` (the whole spec is passed)."""
    _SCHEMES[prefix] = factory


def schemes() -> list[str]:
    return sorted(_SCHEMES)


def resolve(spec: str | None) -> Manipulation:
    """The backend a ``--manipulation`` string names; a clear error for one nobody registered."""
    spec = (spec or "scripted").strip()
    for prefix in sorted(_SCHEMES, key=len, reverse=True):
        if spec == prefix or (prefix[-1] in ":/" and spec.startswith(prefix)):
            return _SCHEMES[prefix](spec)
    raise ValueError(f"unknown manipulation backend '{spec}'; use one of: {', '.join(schemes())}")


def _policy_parts(spec: str) -> tuple[str, str]:
    """``policy:CKPT?QUERY`` -> (CKPT, QUERY)."""
    path, _, query = spec.split(":", 1)[1].partition("?")
    return path, query


def recorded_locomotion(spec: str | None) -> str | None:
    """What the G1 stood on in the demonstrations of a ``policy:CKPT`` checkpoint (its config's
    ``locomotion``): runs with it default to that. None for other backends or a checkpoint that does not
    say; a missing checkpoint is left for ``resolve`` to name."""
    spec = (spec or "").strip()
    if not spec.startswith("policy:"):
        return None
    config = Path(_policy_parts(spec)[0]) / "config.json"
    try:
        return json.loads(config.read_text()).get("locomotion")
    except (OSError, ValueError, AttributeError):
        return None


def words(name: str) -> str:
    return name.replace("_", " ")


def instruction_for(skill: str, args: Any, upcoming: Upcoming = ()) -> str:
    """The sentence a language-conditioned policy gets for a pick or place call."""
    if skill == "place":
        return f"move the {words(args.object)} to the {words(args.location)}"
    nxt = next(
        (
            a
            for s, a in upcoming
            if s == "place" and a.get("object") == args.object and a.get("hand", "right") == args.hand
        ),
        None,
    )
    if nxt is not None:
        return f"move the {words(args.object)} to the {words(nxt['location'])}"
    return f"pick up the {words(args.object)}"


# ----------------------------------------------------------------- when a policy-run call has done its part
LIFTED_M = 0.05  # the pick judge's lift
SETTLE_TICKS = 25  # a condition must hold this long (0.5 s at 50 Hz) before the call is over


def picked(args: Any) -> Callable[[WorldState, WorldState], bool]:
    def done(start: WorldState, world: WorldState) -> bool:
        lift = world.objects[args.object].pos[2] - start.objects[args.object].pos[2]
        return world.robot.holding.get(args.hand) == args.object and lift >= LIFTED_M

    return done


def set_down(args: Any) -> Callable[[WorldState, WorldState], bool]:
    """A place has done its part when the object is out of the hand and lower than it was carried.

    Out of the hand alone is not enough: a block pinched between two fingertips without the thumb is
    not "held" by the contact rule while it is still being carried.
    """

    def done(start: WorldState, world: WorldState) -> bool:
        obj = world.objects[args.object]
        return obj.held_by is None and obj.pos[2] <= start.objects[args.object].pos[2] - LIFTED_M / 2

    return done


class UntilExecutor:
    """Runs a chunked policy until the call's part of the task shows in the world (held for
    ``SETTLE_TICKS``) or its tick budget is spent; the skill's judge then decides from the physics."""

    def __init__(self, inner, until: Callable[[WorldState, WorldState], bool]) -> None:
        self.inner, self.until = inner, until
        self.groups = inner.groups
        self._start: WorldState | None = None
        self._held = 0

    @property
    def policy(self):
        return self.inner.policy

    def reset(self, obs: Observation, world: WorldState) -> None:
        self._start, self._held = world, 0
        self.inner.reset(obs, world)

    def act(self, obs: Observation, world: WorldState):
        assert self._start is not None
        self._held = self._held + 1 if self.until(self._start, world) else 0
        return self.inner.act(obs, world)

    @property
    def finished(self) -> bool:
        return self._held >= SETTLE_TICKS or self.inner.finished

    @property
    def error(self) -> str | None:
        return getattr(self.inner, "error", None)

    def stats(self) -> dict[str, Any]:
        return self.inner.stats() if hasattr(self.inner, "stats") else {}

    def close(self) -> None:
        self.inner.close()


@cache
def _load(path: str, device: str, runtime: str):
    from skills.policies.vla.policy import load_for_inference

    return load_for_inference(path, device, runtime)


class PolicyManipulation:
    """``policy:CKPT[?execute=K][&device=D][&runtime=R][&int8=0|1][&lockstep=0|1][&say=SENTENCE]``: pick and
    place run by a Tandem VLA checkpoint in this process, on device D (``cpu``, the default; ``cuda``;
    ``auto``) with runtime R (``auto``, the default: ``onnx`` where the network lands on the CPU — ONNX
    Runtime, the same actions at less than half the time of ``torch`` — else ``torch``; ``int8=1``: torch
    with its Linear layers quantized to int8 on the CPU), playing
    K (default: the checkpoint's ``execute``, 8 unless set) of each chunk's actions before asking for the
    next. ``lockstep=1`` (the default) stops simulated time while the network thinks, so a slow CPU
    measures the policy and not its speed; ``lockstep=0`` holds the targets meanwhile, as hardware would
    (the record's ``late_ticks`` count them). ``say`` (URL-quoted) tells the policy SENTENCE for every call
    instead of the sentence rendered from the call (the prompt probe of ``tandem experiment``: same scene,
    another task's instruction)."""

    def __init__(self, spec: str) -> None:
        self.name = spec
        path, query = _policy_parts(spec)
        if not path:
            raise ValueError("--manipulation policy:CKPT needs a checkpoint folder after 'policy:'")
        options = dict(part.partition("=")[::2] for part in query.split("&") if part)
        unknown = set(options) - {"execute", "say", "device", "runtime", "lockstep", "int8"}
        if unknown:
            raise ValueError(
                f"--manipulation {spec}: unknown option(s) {', '.join(sorted(unknown))}; "
                "known: execute, device, runtime, int8, lockstep, say"
            )
        for flag in ("lockstep", "int8"):
            if options.get(flag, "0") not in ("0", "1"):
                raise ValueError(f"--manipulation {spec}: {flag} must be 0 or 1")
        int8 = options.get("int8", "0") == "1"
        self.lockstep = options.get("lockstep", "1") == "1"
        device = options.get("device", "cpu")
        if device not in ("cpu", "cuda", "auto"):
            raise ValueError(f"--manipulation {spec}: device must be cpu, cuda or auto, got {device!r}")
        if int8 and device != "cpu":
            raise ValueError(f"--manipulation {spec}: int8 runs on the CPU (device=cpu)")
        runtime = options.get("runtime", "auto")
        if runtime not in ("auto", "torch", "onnx"):
            raise ValueError(f"--manipulation {spec}: runtime must be auto, torch or onnx, got {runtime!r}")
        if runtime == "onnx" and (device == "cuda" or int8):
            raise ValueError(
                f"--manipulation {spec}: runtime=onnx runs float32 on the CPU (device=cpu, int8=0)"
            )
        from urllib.parse import unquote

        self.say = unquote(options.get("say", "")).strip() or None
        self.checkpoint = path
        self.policy = _load(path, device, "int8" if int8 else runtime)
        try:
            self.execute = int(options.get("execute", self.policy.config.execute))
        except ValueError:
            raise ValueError(f"--manipulation {spec}: execute must be a whole number of actions") from None
        if not 1 <= self.execute <= self.policy.config.chunk:
            raise ValueError(f"--manipulation {spec}: execute must be 1..{self.policy.config.chunk}")

    def executor(self, env, skill: str, args: Any, upcoming: Upcoming = ()) -> Executor | None:
        if skill not in ("pick", "place"):
            return None
        from skills.library.common import arm_and_hand
        from skills.registry import get_skill

        instruction = self.say or instruction_for(skill, args, upcoming)
        steps = round(get_skill(skill).timeout_s / env.control_dt)
        inner = self._chunks(env, arm_and_hand(args), instruction, steps)
        return UntilExecutor(inner, picked(args) if skill == "pick" else set_down(args))

    def task_executor(self, env, instruction: str, steps: int) -> Executor | None:
        return self._chunks(env, tuple(env.embodiment.groups), self.say or instruction, steps)

    def _chunks(self, env, groups: tuple[str, ...], instruction: str, steps: int):
        """The checkpoint's chunks played on ``groups`` for ``steps`` ticks, joints under the speed limit."""
        from eval.datasets.layout import layout_for_env
        from skills.controllers.trajectory import MAX_JOINT_SPEED
        from skills.policies.chunked import ChunkedPolicyExecutor, SpeedLimit
        from skills.policies.vla.chunk_policy import VLAChunkPolicy

        embodiment = layout_for_env(env).robot_type  # what `tandem train` names a dataset's robot
        self.policy.bank.get([instruction])  # a new sentence is encoded now, not inside the first inference
        chunk = VLAChunkPolicy(self.policy, env, instruction, groups, self.execute, embodiment)
        limits = {g: SpeedLimit(env.embodiment.groups[g].state_index, MAX_JOINT_SPEED) for g in groups}
        return ChunkedPolicyExecutor(chunk, steps=steps, prefetch_at=2, limits=limits, lockstep=self.lockstep)


def _groot(spec: str) -> Manipulation:
    from skills.policies.groot.backend import GrootBackend

    return GrootBackend(spec)


register_scheme("scripted", lambda spec: Scripted())
register_scheme("policy:", PolicyManipulation)
register_scheme("groot://", _groot)
