"""The System-1 control loop: dispatch ready calls, compose their commands, step the env, monitor.

Each tick every active executor writes only its own joint groups; the runtime merges them into one
whole-body command and steps the env (physics substeps below the control rate). Slow executors run
inference off this thread (skills/policies/chunked.py), so a late answer never stalls this loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from agent.dispatcher import ActiveCall, Call, Dispatcher, GroupsBusy, make_call
from agent.monitors import MonitorConfig, Monitors
from agent.outcome import Outcome
from envs.base import Env, Observation, WorldState
from envs.locomotion.gains import default_profile
from skills.policies.manipulation import Manipulation
from skills.spec import SceneNames, Verdict

Hook = Callable[["Runtime"], None]


class Runtime:
    """Runs skill calls on an env until monitors report what happened to them."""

    def __init__(
        self,
        env: Env,
        monitors: MonitorConfig | None = None,
        faults: Iterable[Any] = (),
        manipulation: Manipulation | None = None,
    ) -> None:
        self.env = env
        self.manipulation = manipulation  # who runs pick/place (None: the skills' scripted executors)
        self.upcoming: list[tuple[str, dict[str, Any]]] = []  # plan steps after the queued ones
        self.monitors = Monitors(env, monitors)
        self.dispatcher = Dispatcher()
        self.faults = list(faults)
        self.obs: Observation = env.observation() if hasattr(env, "observation") else env.reset()  # type: ignore[attr-defined]
        self.world: WorldState = env.world_state()
        self.scene = SceneNames.from_world(self.world)
        # What is in hand when this loop starts is being carried: a drop of it must be reported.
        self.monitors.carrying = {h: o for h, o in self.world.robot.holding.items() if o}
        self.outcomes: list[Outcome] = []
        self.ticks = 0
        self.last_command: dict[str, np.ndarray] = {}
        self.on_tick: list[Hook] = []  # observers (video, live view); they run after each step
        self.on_start: list[Callable[[ActiveCall], None]] = []
        self.on_outcome: list[Callable[[Outcome], None]] = []
        self.on_fault: list[Callable[[str, dict[str, Any]], None]] = []  # fault_applied / _not_applicable
        self.episode_over: Verdict | None = None
        self._gains: tuple | None = None  # the gain profiles last sent to the env
        # Per-tick cost split for the loop benchmark: dispatcher + composition + monitors / executors /
        # env.step (physics) / world_state() extraction.
        self.overhead_s = 0.0
        self.executor_s = 0.0
        self.env_s = 0.0
        self.world_state_s = 0.0

    def fault_event(self, kind: str, data: dict[str, Any]) -> None:
        """What an injected fault did (or why it could not), for the run record."""
        for hook in self.on_fault:
            hook(kind, data)

    # ----------------------------------------------------------------- calls
    def call(
        self, call_id: str, skill: str, args: dict[str, Any] | None = None, after: Iterable[str] = ()
    ) -> Call:
        """Validate and queue a call; it starts when its dependencies succeed and its groups are free."""
        call = make_call(call_id, skill, args or {}, self.env.embodiment, self.scene, after)
        self.dispatcher.submit(call)
        return call

    def start_now(self, call_id: str, skill: str, args: dict[str, Any] | None = None) -> Call:
        """Start a call this tick, or raise GroupsBusy naming the groups and who holds them."""
        call = make_call(call_id, skill, args or {}, self.env.embodiment, self.scene)
        self.dispatcher.check_free(call)
        self.dispatcher.submit(call)
        self.dispatcher.pending.remove(call)
        self._start(call)
        return call

    def _start(self, call: Call) -> None:
        for fault in self.faults:
            fault.before_start(self, call)
        executor = self._executor(call)
        for fault in self.faults:
            executor = fault.wrap(call, executor)
        self.world = self.env.world_state()
        executor.reset(self.obs, self.world)
        active = ActiveCall(
            call=call,
            executor=executor,
            start_world=self.world,
            started_s=self.world.time_s,
            groups=call.groups,
        )
        self.dispatcher.active[call.id] = active
        for hook in self.on_start:
            hook(active)

    def _executor(self, call: Call):
        if self.manipulation is not None:
            ahead = [(c.spec.name, c.raw_args) for c in self.dispatcher.pending] + self.upcoming
            executor = self.manipulation.executor(self.env, call.spec.name, call.args, ahead)
            if executor is not None:
                return executor
        return call.spec.executor(self.env, call.args)

    def _finish(self, a: ActiveCall, verdict: Verdict) -> Outcome:
        a.executor.close()
        d = self.dispatcher
        del d.active[a.call.id]
        (d.succeeded if verdict.status == "success" else d.failed).add(a.call.id)
        self.monitors.after_outcome(a, verdict, self.world)
        out = Outcome(
            call_id=a.call.id,
            skill=a.call.spec.name,
            status=verdict.status,
            reason=verdict.reason,
            sim_time_s=round(self.world.time_s, 4),
            started_s=round(a.started_s, 4),
            args=a.call.raw_args,
            evidence=verdict.evidence | _executor_stats(a.executor),
        )
        self.outcomes.append(out)
        for hook in self.on_outcome:
            hook(out)
        return out

    # ----------------------------------------------------------------- loop
    def tick(self) -> list[Outcome]:
        """One control tick; returns the outcomes decided in it."""
        t0 = time.perf_counter()
        d = self.dispatcher
        finished: list[Outcome] = []
        starting, preempt = d.ready()
        for cid in preempt:
            a = d.active[cid]
            finished.append(self._finish(a, self.monitors.settle(a, self.world)))
        for call in starting:
            d.pending.remove(call)
            self._start(call)
        for call in d.blocked_forever():
            d.pending.remove(call)
            d.failed.add(call.id)

        self._apply_gains()
        t1 = time.perf_counter()
        command: dict[str, np.ndarray] = {}
        for a in d.active.values():
            part = a.executor.act(self.obs, self.world)
            base = part.get("base")
            a.commands_base = base is not None and bool(np.any(np.abs(base) > 1e-3))
            command.update(part)
        t2 = time.perf_counter()
        for fault in self.faults:
            fault.on_tick(self)
        self.obs = self.env.step(command)
        t_world = time.perf_counter()
        self.world = self.env.world_state()
        self.last_command = command
        self.ticks += 1
        t3 = time.perf_counter()

        episode = self.monitors.episode_failure(self.world)
        for a in list(d.active.values()):
            verdict = episode or self.monitors.check_call(a, self.world)
            if verdict is not None:
                finished.append(self._finish(a, verdict))
        if episode is not None:
            self.episode_over = episode
        for hook in self.on_tick:
            hook(self)
        t4 = time.perf_counter()
        self.overhead_s += (t1 - t0) + (t4 - t3)
        self.executor_s += t2 - t1
        self.env_s += t_world - t2
        self.world_state_s += t3 - t_world
        return finished

    def _apply_gains(self) -> None:
        """Gains go with ownership: each owned group runs under its owner's profile (``executor.gains``,
        else the group's default), the others under their defaults; the env blends the changes."""
        set_gains = getattr(self.env, "set_gains", None)
        if set_gains is None:
            return
        owned: dict[str, str] = {}
        for a in self.dispatcher.active.values():
            declared = getattr(a.executor, "gains", None) or {}
            for g in a.groups:
                if g in self.env.embodiment.groups:
                    owned[g] = declared.get(g, default_profile(g))
        free = frozenset(self.env.embodiment.groups) - set(owned)
        key = (tuple(sorted(owned.items())), free)
        if key != self._gains:
            self._gains = key
            set_gains(owned, free)

    def run_until_event(self, max_sim_s: float | None = None, stop_on: str = "failure") -> list[Outcome]:
        """Tick until a decisive event: a failure (or any outcome with ``stop_on="any"``), the end of
        the episode, or nothing left to run. Background calls left alone at the end are settled."""
        d = self.dispatcher
        decided: list[Outcome] = []
        t_end = None if max_sim_s is None else self.world.time_s + max_sim_s
        while not d.idle() or (d.active and not all(a.call.spec.background for a in d.active.values())):
            if self.episode_over is not None:
                break
            out = self.tick()
            decided.extend(out)
            if any(o.status == "failure" for o in out) or (stop_on == "any" and out):
                return decided
            if t_end is not None and self.world.time_s >= t_end:
                return decided
        if self.episode_over is None and not d.pending:
            for a in list(d.active.values()):
                decided.append(self._finish(a, self.monitors.settle(a, self.world)))
        return decided

    def run_calls(self, calls: Iterable[tuple[str, str, dict[str, Any], Iterable[str]]]) -> list[Outcome]:
        """Queue (id, skill, args, after) calls and run until they are all decided or one fails."""
        for cid, skill, args, after in calls:
            self.call(cid, skill, args, after)
        return self.run_until_event()


def _executor_stats(executor: Any) -> dict[str, Any]:
    """A learned/remote executor's inference figures (latency per chunk, late ticks) for the record."""
    stats = getattr(executor, "stats", None)
    return {"policy": stats()} if callable(stats) else {}


__all__ = ["GroupsBusy", "Runtime"]
