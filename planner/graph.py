"""The System-2 graph: understand -> plan -> validate -> [approve] -> execute -> reflect, looping.

Nodes are plain functions returning partial state updates. The robot only moves inside ``execute``,
and each execute runs one wave of ready steps to quiescence before the state (with a simulator
snapshot) is checkpointed, so a killed run resumes without redoing finished steps. Human approval
is an interrupt in its own node before ``execute``, never after a robot command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from planner.backend import Feedback, PlannerBackend, PlanningError, Reply, StepRunner
from planner.schema import Plan
from planner.state import RunState, Status
from planner.validate import validate_plan
from skills.reasons import reasons_with
from skills.spec import SceneNames
from skills.symbolic import SymbolicState

DONE: Literal["__end__"] = "__end__"  # LangGraph's END, typed for the routers' Literal returns
assert DONE == END

# Failure reasons by what can be done about them (the vocabulary: skills/reasons.py).
FATAL = reasons_with("fatal")
ASK_USER = reasons_with("ask_user")
# The backend is asked again with the failure: the recipe is expanded again from the world as it is
# (re-pick, re-approach, the other hand for an unreachable call); an LLM gets the failure in its prompt.
REPAIR = reasons_with("repair")
NO_RETRY = REPAIR | reasons_with("replan")  # repeating the same call cannot fix these
FINISH = reasons_with("finish")
UNCHECKED = "completed (goal unchecked)"


@dataclass
class GraphContext:
    """Args:
    backend: the planner (offline recipes or an LLM).
    runner: System 1.
    max_step_retries: times one step may be retried as it is.
    max_replans: new plans (repairs and replans) per run.
    emit: called with (kind, data) for the run record and the live view.
    """

    backend: PlannerBackend
    runner: StepRunner
    max_step_retries: int = 1
    max_replans: int = 3
    emit: Callable[[str, dict[str, Any]], None] = field(default=lambda kind, data: None)


def _reply_status(kind: str) -> Status:
    """A backend's Reply as the run's status: a question waits for a person; a declined request (negated
    or contrary, planner/meaning.py) is reported as such; anything else was not understood."""
    statuses: dict[str, Status] = {"question": "needs_user", "declined": "declined"}
    return statuses.get(kind, "not_understood")


def _plain(values: dict[str, Any]) -> str:
    """``k=v, k=v`` for messages people read (no Python reprs)."""
    return ", ".join(f"{k}={v}" for k, v in values.items())


def build_graph(ctx: GraphContext, checkpointer: Any = None):
    def understand(state: RunState) -> RunState:
        result = ctx.backend.understand(state["goal"], ctx.runner.world())
        if isinstance(result, Reply):
            ctx.emit("reply", {"message": result.message, "reply_kind": result.kind})
            return {"status": _reply_status(result.kind), "message": result.message, "task": None}
        ctx.emit("understood", {"task": result.task, "summary": result.summary, "confirm": result.confirm})
        return {
            "task": result.task,
            "summary": result.summary,
            "status": "running",
            "confirm": result.confirm,
        }

    def plan(state: RunState) -> RunState:
        fb = state.get("feedback")
        feedback = Feedback(**fb) if fb else None
        try:
            new = ctx.backend.plan(state["task"] or {}, ctx.runner.world(), feedback)
        except PlanningError as e:
            ctx.emit("planning_failed", {"message": str(e)})
            return {"status": "failed", "message": f"cannot plan: {e}", "issues": [str(e)]}
        if isinstance(new, Reply):
            ctx.emit("reply", {"message": new.message, "reply_kind": new.kind})
            status: Status = "failed" if new.kind not in ("question", "declined") else _reply_status(new.kind)
            return {"status": status, "message": new.message}
        version = state.get("plan_version", 0) + 1
        ctx.emit("plan", {"version": version, "plan": new.model_dump(), "feedback": fb})
        return {
            "plan": new.model_dump(),
            "plan_version": version,
            "done": [],
            "attempts": {},
            "feedback": None,
        }

    def validate(state: RunState) -> RunState:
        world = ctx.runner.world()
        plan_ = Plan.model_validate(state["plan"])
        found = validate_plan(
            plan_,
            SceneNames.from_world(world),
            SymbolicState.from_world(world),
            workspace=ctx.runner.workspace(),
        )
        issues = [str(i) for i in found]
        if not issues:
            return {"issues": []}
        ctx.emit("invalid_plan", {"issues": issues})
        replans = state.get("replans", 0)
        if all(i.kind == "unreachable" for i in found) and replans < ctx.max_replans:
            # Rejected before motion, then repaired like a failed call: the planner hears why.
            first = found[0]
            step = plan_.step(first.step_id or "")
            fb = Feedback(
                failed_step=step.model_dump(),
                outcome={
                    "call_id": step.id,
                    "skill": step.skill,
                    "args": step.args,
                    "status": "failure",
                    "reason": "unreachable",
                    "evidence": {"detail": first.message},
                },
                decision="repair",
            )
            ctx.emit("decision", {"decision": "repair", "message": str(first), "feedback": fb.__dict__})
            return {"issues": issues, "decision": "repair", "replans": replans + 1, "feedback": fb.__dict__}
        return {
            "issues": issues,
            "decision": "finish",
            "status": "invalid_plan",
            "message": "the plan did not validate:\n" + "\n".join(issues),
        }

    def execute(state: RunState) -> RunState:
        plan_ = Plan.model_validate(state["plan"])
        wave = ctx.runner.run_wave(plan_, set(state.get("done", [])))
        outcomes = [{**o, "plan_version": state.get("plan_version", 1)} for o in wave.outcomes]
        done = list(state.get("done", [])) + [o["call_id"] for o in outcomes if o["status"] == "success"]
        return {"outcomes": outcomes, "wave": outcomes, "done": done, "snapshot": wave.snapshot}

    def reflect(state: RunState) -> RunState:
        plan_ = Plan.model_validate(state["plan"])
        done = set(state.get("done", []))
        failures = [o for o in state.get("wave", []) if o["status"] == "failure" and o["call_id"] not in done]
        attempts = dict(state.get("attempts", {}))
        replans = state.get("replans", 0)
        world = ctx.runner.world()

        def decide(decision: str, **update: Any) -> RunState:
            ctx.emit(
                "decision",
                {"decision": decision, **{k: v for k, v in update.items() if k in ("message", "feedback")}},
            )
            return {"decision": decision, **update}  # type: ignore[typeddict-item]

        if failures:
            f = failures[0]
            reason = f["reason"]
            if reason in FATAL:
                return decide(
                    "finish", status="failed", message=f"stopped: {f['skill']} ended the episode ({reason})"
                )
            if reason in ASK_USER:
                return decide(
                    "ask_user",
                    status="needs_user",
                    message=f"{f['skill']}({_plain(f['args'])}) is {reason}: clear the way, then ask again",
                )
            if reason in FINISH:
                return decide(
                    "finish",
                    status="failed",
                    message=f"{f['skill']} failed ({reason}): {_plain(f['evidence'])}",
                )
            tries = attempts.get(f["call_id"], 0)
            attempts[f["call_id"]] = tries + 1
            if reason not in NO_RETRY and tries < ctx.max_step_retries:
                return decide("retry", attempts=attempts, retries=state.get("retries", 0) + 1)
            if replans < ctx.max_replans:
                fb = Feedback(
                    failed_step=plan_.step(f["call_id"]).model_dump(),
                    outcome=f,
                    succeeded=sorted(done),
                    decision="repair" if reason in REPAIR else "replan",
                )
                return decide(fb.decision, attempts=attempts, replans=replans + 1, feedback=fb.__dict__)
            return decide(
                "finish", status="failed", message=f"{f['skill']} kept failing ({reason}); out of replans"
            )
        if len(done) < len(plan_.steps):
            return decide("continue")
        met, details = ctx.backend.goal_met(state["task"] or {}, world)
        if met is None:  # no goal the world can be checked against: never reported as success
            return decide(
                "finish", status="completed_unchecked", message=f"{UNCHECKED}: " + "; ".join(details)
            )
        if met:
            return decide("finish", status="success", message="goal reached: " + "; ".join(details))
        if replans < ctx.max_replans:
            fb = Feedback(
                failed_step={},
                outcome={"reason": "goal_not_met", "evidence": details},
                succeeded=sorted(done),
            )
            return decide("replan", replans=replans + 1, feedback=fb.__dict__)
        return decide(
            "finish", status="failed", message="plan finished but the goal is not met: " + "; ".join(details)
        )

    def after_plan(state: RunState) -> Literal["validate", "__end__"]:
        return DONE if state.get("status") in ("failed", "needs_user") else "validate"

    def after_understand(state: RunState) -> Literal["plan", "__end__"]:
        return "plan" if state.get("status") == "running" else DONE

    def approve(state: RunState) -> RunState:
        # Its own node, before any robot command: a resumed interrupt re-runs only this.
        # A weak match is confirmed once, on its first plan, when a person is there to answer (chat).
        weak = state.get("confirm") if state.get("confirm_weak") and state.get("plan_version") == 1 else None
        if not state.get("approval") and not weak:
            return {}
        answer = interrupt(
            {
                "question": weak or "approve this plan?",
                "plan": state["plan"],
                "version": state.get("plan_version"),
            }
        )
        approved = answer is True or str(answer).strip().lower() in ("y", "yes", "approve", "ok")
        ctx.emit("approval", {"approved": approved, "answer": str(answer)})
        if approved:
            return {}
        return {"status": "rejected", "message": "the plan was not approved", "decision": "finish"}

    def after_validate(state: RunState) -> Literal["approve", "plan", "__end__"]:
        if not state.get("issues"):
            return "approve"
        return "plan" if state.get("decision") == "repair" else DONE

    def after_approve(state: RunState) -> Literal["execute", "__end__"]:
        return DONE if state.get("status") == "rejected" else "execute"

    def after_reflect(state: RunState) -> Literal["execute", "plan", "__end__"]:
        decision = state.get("decision")
        if decision in ("continue", "retry"):
            return "execute"
        if decision in ("repair", "replan"):
            return "plan"
        return DONE

    g = StateGraph(RunState)
    g.add_node("understand", understand)
    g.add_node("plan", plan)
    g.add_node("validate", validate)
    g.add_node("approve", approve)
    g.add_node("execute", execute)
    g.add_node("reflect", reflect)
    g.add_edge(START, "understand")
    g.add_conditional_edges("understand", after_understand)
    g.add_conditional_edges("plan", after_plan)
    g.add_conditional_edges("validate", after_validate)
    g.add_conditional_edges("approve", after_approve)
    g.add_edge("execute", "reflect")
    g.add_conditional_edges("reflect", after_reflect)
    return g.compile(checkpointer=checkpointer, name="tandem")
