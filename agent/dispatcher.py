"""The dispatcher: which skill calls may start, on which joint groups, after which others."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from envs.base import Embodiment, WorldState
from skills.executor import Executor
from skills.registry import get_skill
from skills.spec import SceneNames, SkillArgs, SkillSpec


class GroupsBusy(RuntimeError):
    """A call needs joint groups another running call holds."""


@dataclass
class Call:
    """A requested skill call: validated arguments, the groups it claims, the calls it waits for."""

    id: str
    spec: SkillSpec
    args: SkillArgs
    groups: frozenset[str]
    after: tuple[str, ...] = ()

    @property
    def raw_args(self) -> dict[str, Any]:
        return self.args.model_dump()


@dataclass
class ActiveCall:
    call: Call
    executor: Executor
    start_world: WorldState
    started_s: float
    groups: frozenset[str] = field(default_factory=frozenset)
    out_of_hand_s: float = 0.0  # drop monitor debounce
    last_base: tuple[float, float, float] | None = None
    still_s: float = 0.0  # stall monitor
    commands_base: bool = False  # it asked the base to move this tick


def make_call(
    call_id: str, skill: str, args: dict[str, Any], embodiment: Embodiment, scene: SceneNames, after=()
) -> Call:
    """Validate a call against the registry and the scene; errors say which call and why."""
    from pydantic import ValidationError

    from envs.validation import format_validation_error

    spec = get_skill(skill)
    try:
        parsed = spec.parse_args(args, scene)
    except ValidationError as e:
        raise ValueError(f"call '{call_id}' ({skill}): bad arguments\n{format_validation_error(e)}") from None
    groups = frozenset(g for name in spec.resources(parsed) for g in embodiment.expand(name))
    return Call(id=call_id, spec=spec, args=parsed, groups=groups, after=tuple(after))


class Dispatcher:
    """Pending calls start when their dependencies succeeded and their groups are free."""

    def __init__(self) -> None:
        self.pending: list[Call] = []
        self.active: dict[str, ActiveCall] = {}
        self.succeeded: set[str] = set()
        self.failed: set[str] = set()

    def submit(self, call: Call) -> None:
        known = {c.id for c in self.pending} | set(self.active) | self.succeeded | self.failed
        if call.id in known:
            raise ValueError(f"call id '{call.id}' is already used")
        self.pending.append(call)

    def owner_of(self, groups: frozenset[str]) -> dict[str, str]:
        """Group -> id of the active call holding it, for the groups that are taken."""
        return {g: a.call.id for a in self.active.values() for g in a.groups & groups}

    def check_free(self, call: Call) -> None:
        taken = self.owner_of(call.groups)
        if taken:
            who = ", ".join(
                f"{g} (held by '{cid}' {self.active[cid].call.spec.name})" for g, cid in sorted(taken.items())
            )
            raise GroupsBusy(f"call '{call.id}' ({call.spec.name}) needs joint groups already in use: {who}")

    def ready(self) -> tuple[list[Call], list[str]]:
        """Calls that may start now (in submission order), and background calls they preempt."""
        starting: list[Call] = []
        preempt: list[str] = []
        claimed: set[str] = set()
        for call in self.pending:
            if not all(dep in self.succeeded for dep in call.after):
                continue
            owners = self.owner_of(call.groups)
            blockers = {cid for cid in owners.values() if not self.active[cid].call.spec.background}
            if blockers or call.groups & claimed:
                continue
            preempt.extend(cid for cid in owners.values() if cid not in preempt)
            starting.append(call)
            claimed |= call.groups
        return starting, preempt

    def blocked_forever(self) -> list[Call]:
        """Pending calls whose dependencies failed: they can never start."""
        return [c for c in self.pending if any(dep in self.failed for dep in c.after)]

    def idle(self) -> bool:
        return not self.pending and all(a.call.spec.background for a in self.active.values())
