"""LLMBackend: the graph's PlannerBackend on an OpenAI-compatible chat endpoint.

``understand`` asks for the first plan (so the model can answer with a question or give up before the
robot moves), ``plan`` returns it, and asks again with the failure, what succeeded and the world as it is
when the graph replans. Every reply is parsed and checked (wire shape, registered skills, arguments and
scene names, preconditions via validate_plan); a reply that fails is sent back with the precise errors,
up to ``max_attempts`` replies per plan. Nothing the model writes is executed except as registered skill
calls with validated arguments.

An empty plan whose reason starts with ``QUESTION:`` or ``GIVE UP:`` is the model declining: from
``understand`` or a replan it becomes a Reply, and the graph ends the run with the explanation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from envs import predicates
from envs.base import WorldState
from envs.validation import format_validation_error
from planner.backend import Feedback, PlannerBackend, Reply, Understood
from planner.llm.client import (
    ChatClient,
    LiveTransport,
    LLMError,
    LLMLog,
    LLMUnavailable,
    ModeRejected,
    ReplayMismatch,
    ReplayTransport,
    Transport,
)
from planner.llm.config import MODES, LLMConfig
from planner.llm.modes import INSTRUCTIONS, normalize, parse_json, plan_schema, read_reply, request_body
from planner.llm.prompts import (
    Template,
    describe_predicates,
    describe_scene,
    describe_skills,
    describe_world,
)
from planner.meaning import contrary
from planner.schema import Plan
from planner.validate import validate_plan
from skills.spec import SceneNames
from skills.symbolic import SymbolicState

QUESTION, GIVE_UP = "QUESTION:", "GIVE UP:"
# The output mode that worked, per endpoint (base URL, model), for this process.
_MODE_CHOICE: dict[tuple[str, str], str] = {}


def decline_of(plan: Plan) -> Reply | None:
    """The model's question or refusal, when the plan is empty with a marked reason."""
    if plan.steps:
        return None
    reason = plan.reason.strip()
    head = reason.upper().replace("_", " ")
    if head.startswith(QUESTION):
        return Reply(reason[len(QUESTION) :].strip() or "the planner has a question", "question")
    if head.startswith(GIVE_UP):
        return Reply(reason[len(GIVE_UP) :].strip() or "the planner gave up", "refused")
    return None


class LLMBackend:
    name = "llm"

    def __init__(
        self,
        cfg: LLMConfig,
        run_dir: Path | None = None,
        emit: Callable[..., None] | None = None,
        fallback: Callable[[], PlannerBackend] | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.emit = emit or (lambda kind, **data: None)
        sleep: Callable[[float], None] = time.sleep
        if cfg.replay:
            replay = ReplayTransport(cfg.replay)
            recorded = replay.session.get("config", {})
            keep = ("model", "temperature", "max_tokens", "max_attempts", "max_retries", "base_url")
            for key in keep:
                if key in recorded:
                    setattr(cfg, key, recorded[key])
            for key in ("prompt", "replan_prompt", "request_prompt", "repair_prompt"):
                if key in recorded and Path(recorded[key]).is_file():
                    setattr(cfg, key, recorded[key])
            transport, sleep = replay, (lambda s: None)
            start_mode = replay.session.get("start_mode", MODES[0])
        else:
            endpoint = (cfg.base_url, cfg.model)
            start_mode = cfg.mode if cfg.mode != "auto" else _MODE_CHOICE.get(endpoint, MODES[0])
        self.cfg = cfg
        self.mode = start_mode
        self.templates = {
            "system": Template.load("system", cfg.prompt),
            "request": Template.load("request", cfg.request_prompt),
            "replan": Template.load("replan", cfg.replan_prompt),
            "repair": Template.load("repair", cfg.repair_prompt),
        }
        self.log = LLMLog(run_dir, cfg.api_key)
        self.client = ChatClient(cfg, transport or LiveTransport(cfg), self.log, sleep=sleep)
        self._fallback_factory = fallback if cfg.fallback == "offline" else None
        self.fallback: PlannerBackend | None = None
        self.fallback_reason: str | None = None
        self._fallback_task: dict[str, Any] | None = None
        self._last_plan: Plan | None = None
        self.calls: list[dict[str, Any]] = []
        self._scene_cache: dict[str, tuple[dict[str, Any], str]] = {}
        self.plans = 0
        prompts = {role: t.info() for role, t in self.templates.items()}
        self.log.write(
            {"type": "session", "start_mode": start_mode, "config": cfg.public(), "prompts": prompts}
        )
        self.emit(
            "llm_session",
            model=cfg.model,
            endpoint=cfg.base_url,
            mode=cfg.mode,
            start_mode=start_mode,
            replay=cfg.replay,
            prompts=prompts,
        )

    # -- PlannerBackend ---------------------------------------------------------------------------
    def understand(self, goal: str, world: WorldState) -> Understood | Reply:
        try:
            request = self.templates["request"].render(goal=goal, world=describe_world(world))
            result = self._ask("plan", [{"role": "user", "content": request}], world, goal)
        except LLMUnavailable as e:
            return self._fall_back_understand(e, goal, world)
        except ReplayMismatch as e:
            self.emit("llm_replay_mismatch", error=str(e))
            return Reply(str(e), "error")
        if isinstance(result, Reply):
            return result
        if isinstance(result, str):  # no valid plan within the bound
            return Reply(result, "not_understood")
        self._last_plan = result
        summary = result.reason or goal
        return Understood(
            task={"goal": goal, "request": request, "plan": result.model_dump()}, summary=summary
        )

    def plan(self, task: dict[str, Any], world: WorldState, feedback: Feedback | None = None) -> Plan | Reply:
        if "fallback" in task or self.fallback is not None:
            return self._fallback_plan(task, world, feedback)
        if feedback is None and task.get("plan") is not None:
            return Plan.model_validate(task["plan"])
        previous = self._last_plan or Plan.model_validate(task.get("plan") or {"steps": []})
        messages = [
            {"role": "user", "content": task.get("request") or task.get("goal", "")},
            {"role": "assistant", "content": json.dumps(previous.model_dump())},
            {"role": "user", "content": self._replan_text(task, world, feedback, previous)},
        ]
        try:
            result = self._ask("replan", messages, world, task.get("goal", ""))
        except ReplayMismatch as e:
            self.emit("llm_replay_mismatch", error=str(e))
            return Reply(str(e), "error")
        except LLMUnavailable as e:
            if self._fallback_factory is None:
                return Reply(f"the LLM planner is unavailable: {e}", "error")
            self._start_fallback(e)
            return self._fallback_plan(task, world, feedback)
        if isinstance(result, Reply):
            return result
        if isinstance(result, str):  # no valid plan within the repair bound
            return Reply(result, "refused")
        self._last_plan = result
        return result

    def goal_met(self, task: dict[str, Any], world: WorldState) -> tuple[bool | None, list[str]]:
        """The model's goal predicates on the world; None when its plan named none."""
        if self.fallback is not None and self._fallback_task is not None:
            return self.fallback.goal_met(self._fallback_task, world)
        plan = self._last_plan or Plan.model_validate(task.get("plan") or {"steps": []})
        if not plan.goal:
            return None, [f"all {len(plan.steps)} steps of the model's plan succeeded; it named no goal"]
        results = []
        for g in plan.goal:
            try:
                ok, detail = predicates.evaluate(world, g.predicate, g.params)
            except (KeyError, ValueError, TypeError) as e:  # validated, but the world may have changed
                ok, detail = False, str(e)
            args = ", ".join(f"{k}={v}" for k, v in g.params.items())
            results.append((ok, f"{g.predicate}({args}): {'met' if ok else 'not met'}, {detail}"))
        return all(ok for ok, _ in results), [d for _, d in results]

    # -- accounting ---------------------------------------------------------------------------------
    def usage(self) -> dict[str, Any]:
        """Totals for the run summary: calls, tokens, latency, modes, fallback, prompts."""
        calls = self.calls
        return {
            "model": self.cfg.model,
            "endpoint": self.cfg.base_url,
            "mode": self.mode,
            "replay": self.cfg.replay,
            "plans": self.plans,
            "llm_calls": len(calls),
            "repairs": sum(c["attempt"] > 1 for c in calls),
            "prompt_tokens": sum(c["prompt_tokens"] or 0 for c in calls),
            "completion_tokens": sum(c["completion_tokens"] or 0 for c in calls),
            "latency_s": round(sum(c["latency_s"] for c in calls), 4),
            "planner_overhead_s": round(sum(c["overhead_s"] for c in calls), 4),
            "fallback": None
            if self.fallback_reason is None
            else {"planner": "offline", "reason": self.fallback_reason},
            "prompts": {role: t.info() for role, t in self.templates.items()},
        }

    def close(self) -> None:
        self.log.close()

    # -- the repair loop ----------------------------------------------------------------------------
    def _scene_parts(self, scene: SceneNames) -> tuple[dict[str, Any], str]:
        """The plan schema and the skill list for a scene (cached: they only change with the names)."""
        key = scene.model_dump_json()
        if key not in self._scene_cache:
            self._scene_cache[key] = (plan_schema(scene), describe_skills(scene))
        return self._scene_cache[key]

    def _system(self, scene: SceneNames, skills: str, mode: str) -> dict[str, Any]:
        text = self.templates["system"].render(
            skills=skills,
            scene=describe_scene(scene),
            output=INSTRUCTIONS[mode],
            predicates=describe_predicates(),
        )
        return {"role": "system", "content": text}

    def _ask(
        self, kind: str, conversation: list[dict[str, Any]], world: WorldState, request: str
    ) -> Plan | Reply | str:
        """A checked plan, the model's Reply, or (a str) why no valid plan came within the bound."""
        t_start = time.perf_counter()
        cfg = self.cfg
        self.plans += 1
        scene = SceneNames.from_world(world)
        symbolic = SymbolicState.from_world(world)
        schema, skills = self._scene_parts(scene)
        conversation = list(conversation)
        errors: list[str] = []
        attempt = 0
        while attempt < cfg.max_attempts:
            attempt += 1
            t0 = t_start if attempt == 1 else time.perf_counter()
            mode = self.mode
            body = request_body(
                mode,
                cfg.model,
                [self._system(scene, skills, mode), *conversation],
                schema,
                cfg.temperature,
                cfg.max_tokens,
            )
            meta = {"call": kind, "plan_no": self.plans, "attempt": attempt, "mode": mode}
            try:
                call = self.client.complete(body, meta)
            except ModeRejected as e:
                attempt -= 1
                if not self._next_mode(str(e)):
                    raise LLMUnavailable(f"{e} (mode {mode}; modes tried up to {mode})") from None
                continue
            if cfg.mode == "auto" and not cfg.replay:
                _MODE_CHOICE[(cfg.base_url, cfg.model)] = mode
            answer = read_reply(mode, call.response)
            plan, errors = self._check(answer, scene, symbolic, request)
            usage = call.response.get("usage") or {}
            stats = {
                "call": kind,
                "plan_no": self.plans,
                "attempt": attempt,
                "mode": mode,
                "model": call.response.get("model", cfg.model),
                "prompt_tokens": usage.get("prompt_tokens"),
                "completion_tokens": usage.get("completion_tokens"),
                "latency_s": round(call.latency_s, 4),
                "server_s": round(call.server_s, 4),
                "tries": call.tries,
                "http_s": round(call.http_s, 4),
                # Everything but the HTTP round trip: rendering, schema, parsing, validation, the record.
                "overhead_s": round(time.perf_counter() - t0 - call.http_s, 6),
                "errors": errors,
            }
            self.calls.append(stats)
            self.emit("llm_call", **stats)
            if not errors and plan is not None:
                reply = decline_of(plan)
                if reply is not None and reply.kind == "refused" and contrary(request) is not None:
                    return Reply(reply.message, "declined")
                return reply or plan
            conversation.append(answer.assistant)
            repair = self.templates["repair"].render(errors="\n".join(f"- {e}" for e in errors))
            if answer.tool_call_id:
                conversation.append({"role": "tool", "tool_call_id": answer.tool_call_id, "content": repair})
            else:
                conversation.append({"role": "user", "content": repair})
        return f"the model gave no valid plan in {cfg.max_attempts} replies; last problems: " + "; ".join(
            errors
        )

    def _next_mode(self, why: str) -> bool:
        if self.cfg.mode != "auto" or self.mode == MODES[-1]:
            return False
        old, self.mode = self.mode, MODES[MODES.index(self.mode) + 1]
        self.emit("llm_mode", rejected=old, now=self.mode, why=why)
        return True

    def _check(
        self, answer, scene: SceneNames, symbolic: SymbolicState, request: str
    ) -> tuple[Plan | None, list[str]]:
        if answer.finish_reason == "length":
            return None, [
                f"the reply was cut off at the token limit (finish_reason=length, max_tokens="
                f"{self.cfg.max_tokens}): write a shorter plan (fewer steps, a one-sentence reason)"
            ]
        if not answer.text or not answer.text.strip():
            return None, ["the reply is empty: answer with the plan"]
        try:
            data = normalize(parse_json(answer.text))
        except ValueError as e:
            return None, [f"{e}; write only the JSON object"]
        try:
            plan = Plan.model_validate(data)
        except ValidationError as e:
            return None, ["the plan does not have the wire shape:\n" + format_validation_error(e, "    ")]
        if not plan.steps:
            if decline_of(plan) is None:
                return None, [
                    f"the plan has no steps; to ask or refuse, start the reason with {QUESTION} or {GIVE_UP}"
                ]
            return plan, []
        against = contrary(request)
        if against is not None:  # held to what the system prompt says, not only asked
            return None, [
                f"the request is {against.kind} ('{against.cue}': {against.say}); a plan for it must not "
                f"run: answer with an empty plan and a reason starting with {GIVE_UP} or {QUESTION}"
            ]
        return plan, [str(i) for i in validate_plan(plan, scene, symbolic)]

    def _replan_text(
        self, task: dict[str, Any], world: WorldState, fb: Feedback | None, previous: Plan
    ) -> str:
        if fb is None:
            failure, decision, succeeded = "the planner is asked for a new plan", "replan", []
        elif fb.failed_step:
            s, o = fb.failed_step, fb.outcome
            failure = (
                f"step '{s.get('id')}' {s.get('skill')}({json.dumps(s.get('args', {}))}) failed: "
                f"{o.get('reason')}; monitor evidence: {json.dumps(o.get('evidence', {}), default=str)}"
            )
            decision, succeeded = fb.decision, fb.succeeded
        else:
            failure = f"the plan finished but the goal is not met: {json.dumps(fb.outcome.get('evidence'))}"
            decision, succeeded = fb.decision, fb.succeeded
        return self.templates["replan"].render(
            goal=task.get("goal", ""),
            world=describe_world(world),
            failure=failure,
            succeeded=", ".join(succeeded) or "none",
            previous_plan=json.dumps(previous.model_dump()),
            decision=decision,
        )

    # -- fallback -------------------------------------------------------------------------------------
    def _start_fallback(self, err: LLMError) -> None:
        if self._fallback_factory is None:
            raise err
        self.fallback_reason = str(err)
        self.emit("planner_fallback", planner="offline", reason=str(err))
        self.fallback = self._fallback_factory()

    def _fall_back_understand(self, err: LLMError, goal: str, world: WorldState) -> Understood | Reply:
        if self._fallback_factory is None:
            return Reply(f"the LLM planner is unavailable: {err}", "error")
        try:
            self._start_fallback(err)
            assert self.fallback is not None
            result = self.fallback.understand(goal, world)
        except Exception as e:
            self.emit("planner_fallback_failed", error=f"{type(e).__name__}: {e}")
            return Reply(
                f"the LLM planner is unavailable ({err}) and the offline fallback failed: {e}", "error"
            )
        if isinstance(result, Reply):
            return result
        self._fallback_task = result.task
        return Understood(
            task={"goal": goal, "fallback": result.task},
            summary=f"{result.summary} [offline planner: the LLM planner is unavailable]",
        )

    def _fallback_plan(
        self, task: dict[str, Any], world: WorldState, feedback: Feedback | None
    ) -> Plan | Reply:
        if self.fallback is None:  # resumed run that had fallen back
            self._start_fallback(LLMUnavailable("the run fell back to the offline planner before"))
        assert self.fallback is not None
        if self._fallback_task is None:
            self._fallback_task = task.get("fallback")
        if self._fallback_task is None:
            result = self.fallback.understand(task.get("goal", ""), world)
            if isinstance(result, Reply):
                return result
            self._fallback_task = result.task
        return self.fallback.plan(self._fallback_task, world, feedback)


def make_llm_backend(
    options: dict[str, Any],
    record: Any,
    fallback: Callable[[], PlannerBackend] | None = None,
    emit: Callable[[str, dict[str, Any]], None] | None = None,
) -> LLMBackend:
    """The LLM backend for a run: options from RunConfig.planner_options, events into the run record
    (through ``emit(kind, data)`` when given, so the run's listeners see them too)."""
    cfg = LLMConfig.from_options(options)
    to_record = (lambda kind, **data: emit(kind, data)) if emit else record.event
    return LLMBackend(cfg, run_dir=record.dir, emit=to_record, fallback=fallback)
