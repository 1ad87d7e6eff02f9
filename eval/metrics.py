"""Episode metrics, read from a run record (events.jsonl, summary.json's final world, worlds.jsonl), and
their aggregates: success with a Wilson interval, Fisher's exact test between two result sets.

Nothing here trusts a flag the code under test sets: success is the case's predicates evaluated on the
recorded final world state (or, for ``expect`` cases, the planner's reply in the event log); plan success
is read from the plan / invalid_plan / planning_failed / reply events; chains are the case's ordered
subgoals evaluated on the world recorded after each execute wave (worlds.jsonl, written by the eval
worker), falling back to the final world's prefix when no per-wave worlds were recorded.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from envs.base import ContainerState, ObjectState, ReactionState, RobotState, WorldState

WORLDS = "worlds.jsonl"
Z95 = 1.959963984540054


# -- world states from their recorded dicts -----------------------------------------------------------
def world_from_dict(d: dict[str, Any]) -> WorldState:
    """The inverse of WorldState.to_dict(), for predicates over recorded states."""
    return WorldState(
        time_s=d["time_s"],
        robot=RobotState(**d["robot"]),
        objects={k: ObjectState(**v) for k, v in d["objects"].items()},
        containers={k: ContainerState(**v) for k, v in d["containers"].items()},
        spills_ml=d.get("spills_ml", {}),
        spilled_ml=d.get("spilled_ml", 0.0),
        foam_overflow_ml=d.get("foam_overflow_ml", {}),
        reactions=[ReactionState(**r) for r in d.get("reactions", [])],
        stations=list(d.get("stations", [])),
        unstable=d.get("unstable"),
    )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill: everything before it stands
                break
    return out


def evaluate_checks(world: WorldState, checks: list[Any]) -> list[dict[str, Any]]:
    from envs.predicates import evaluate

    out = []
    for name, params in checks:
        ok, detail = evaluate(world, name, params)
        out.append({"predicate": name, "params": params, "ok": bool(ok), "detail": detail})
    return out


def chain_length(worlds: list[WorldState], subgoals: list[Any]) -> int:
    """Subgoals achieved in order: walk the recorded worlds, advancing past each subgoal once it holds
    (several may fall in one wave). With only the final world this is the prefix that holds there."""
    from envs.predicates import evaluate

    k = 0
    for world in worlds:
        while k < len(subgoals) and evaluate(world, subgoals[k][0], subgoals[k][1])[0]:
            k += 1
    return k


# -- failure attribution ------------------------------------------------------------------------------
_ISSUE = re.compile(r"^(?:step '(?P<step>[^']*)'|plan): (?P<kind>\w+): (?P<msg>.*)$", re.S)
PLANNER_KINDS = {
    "unknown_skill": "hallucinated_skill",
    "duplicate_id": "bad_plan",
    "unknown_dependency": "bad_plan",
    "cycle": "wrong_order",
}


def classify_issue(issue: str) -> str:
    m = _ISSUE.match(issue.strip())
    if not m:
        return (
            "malformed_reply"
            if "JSON" in issue or "wire shape" in issue or "cut off" in issue
            else "invalid_plan"
        )
    kind, msg = m["kind"], m["msg"]
    if kind == "bad_args":
        return "hallucinated_object" if re.search(r"unknown \w+ '", msg) else "bad_args"
    return PLANNER_KINDS.get(kind, kind)


def _orderable(plan: dict[str, Any], world_dict: dict[str, Any] | None) -> bool:
    """Could the same steps run in some other order with every precondition met? (wrong order vs. a
    precondition no step provides)."""
    if world_dict is None:
        return False
    from skills.registry import get_skill
    from skills.spec import SceneNames
    from skills.symbolic import SymbolicState

    world = world_from_dict(world_dict)
    scene = SceneNames.from_world(world)
    try:
        parsed = [(get_skill(s["skill"]), s) for s in plan.get("steps", [])]
        parsed = [(spec, spec.parse_args(s.get("args", {}), scene)) for spec, s in parsed]
    except Exception:
        return False
    state = SymbolicState.from_world(world)
    remaining = list(parsed)
    while remaining:
        for i, (spec, args) in enumerate(remaining):
            if not spec.preconditions(state, args):
                spec.effects(state, args)
                remaining.pop(i)
                break
        else:
            return False
    return True


def attribute(
    events: list[dict[str, Any]],
    success: bool,
    expect: str | None,
    plan_worlds: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    """Who failed and why: planner (hallucinated skill or object, bad arguments, precondition, wrong
    order, missing step, not understood, planning failed) or execution (monitor reason, skill)."""
    if success:
        return {"stage": None, "kind": None, "skill": None, "detail": ""}
    kinds = [e["kind"] for e in events]
    replies = [e for e in events if e["kind"] == "reply"]
    if expect is not None:
        if replies:
            kind = replies[-1].get("reply_kind", "not_understood")
            return {
                "stage": "planner",
                "kind": f"replied_{kind}",
                "skill": None,
                "detail": replies[-1]["message"],
            }
        return {"stage": "planner", "kind": "did_not_decline", "skill": None, "detail": f"expected {expect}"}
    calls = [e for e in events if e["kind"] == "llm_call"]
    last_errors = (calls[-1].get("errors") or []) if calls else []
    if last_errors and (replies or "planning_failed" in kinds):
        # The LLM planner gave up after its repair attempts: blame what its last reply got wrong.
        return {
            "stage": "planner",
            "kind": classify_issue(last_errors[0]),
            "skill": None,
            "detail": last_errors[0],
            "issues": Counter(classify_issue(x) for x in last_errors),
        }
    if replies:
        r = replies[-1]
        return {
            "stage": "planner",
            "kind": r.get("reply_kind") or "not_understood",
            "skill": None,
            "detail": r.get("message", ""),
        }
    if "planning_failed" in kinds:
        e = [e for e in events if e["kind"] == "planning_failed"][-1]
        return {"stage": "planner", "kind": "planning_failed", "skill": None, "detail": e.get("message", "")}
    invalid = [e for e in events if e["kind"] == "invalid_plan"]
    if invalid:
        issues = invalid[-1].get("issues", [])
        classes = [classify_issue(i) for i in issues]
        first = classes[0] if classes else "invalid_plan"
        if first == "precondition":
            plans = [e for e in events if e["kind"] == "plan"]
            last = plans[-1] if plans else None
            if last is not None and _orderable(last["plan"], plan_worlds.get(last.get("version", 0))):
                first = "wrong_order"
        skill = None
        m = _ISSUE.match(issues[0].strip()) if issues else None
        if m and m["step"]:
            for p in [e for e in events if e["kind"] == "plan"][-1:]:
                skill = next((s["skill"] for s in p["plan"].get("steps", []) if s["id"] == m["step"]), None)
        return {
            "stage": "planner",
            "kind": first,
            "skill": skill,
            "detail": issues[0] if issues else "",
            "issues": Counter(classes),
        }
    # The last plan: did every step of it succeed (after it was made)?
    last_plan_at = max((i for i, e in enumerate(events) if e["kind"] == "plan"), default=None)
    if last_plan_at is None:
        return {"stage": "unknown", "kind": "no_plan", "skill": None, "detail": ""}
    steps = [s["id"] for s in events[last_plan_at]["plan"].get("steps", [])]
    after = events[last_plan_at:]
    ok = {e["call_id"] for e in after if e["kind"] == "outcome" and e["status"] == "success"}
    failures = [e for e in after if e["kind"] == "outcome" and e["status"] == "failure"]
    if all(s in ok for s in steps):
        return {
            "stage": "planner",
            "kind": "missing_step",
            "skill": None,
            "detail": "the plan completed but the goal is not met",
        }
    failures = failures or [e for e in events if e["kind"] == "outcome" and e["status"] == "failure"]
    if failures:
        # A fall or a blown-up simulation ends the episode: it is the cause, whatever failed beside it.
        fatal = [e for e in failures if e["reason"] in ("fell", "unstable")]
        f = (fatal or failures)[-1]
        return {
            "stage": "execution",
            "kind": f["reason"],
            "skill": f["skill"],
            "detail": json.dumps(f.get("evidence", {}), default=str)[:300],
        }
    return {"stage": "execution", "kind": "incomplete", "skill": None, "detail": "the plan did not finish"}


# -- one episode ----------------------------------------------------------------------------------------
def _llm_usage(summary: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    usage = summary.get("planner_usage") or summary.get("llm") or {}
    if usage:
        return {
            "llm_calls": int(usage.get("llm_calls") or usage.get("calls") or 0),
            "prompt_tokens": int(usage.get("prompt_tokens") or 0),
            "completion_tokens": int(usage.get("completion_tokens") or 0),
            "llm_latency_s": float(usage.get("latency_s") or 0.0),
            "llm_fallback": bool(usage.get("fallback")),
        }
    calls = [c for c in _read_jsonl(run_dir / "llm.jsonl") if c.get("type") != "session"]
    calls = [c for c in calls if "latency_s" in c]
    return {
        "llm_calls": len(calls),
        "prompt_tokens": sum(int((c.get("usage") or {}).get("prompt_tokens") or 0) for c in calls),
        "completion_tokens": sum(int((c.get("usage") or {}).get("completion_tokens") or 0) for c in calls),
        "llm_latency_s": round(sum(float(c.get("latency_s") or 0) for c in calls), 4),
    }


def episode_metrics(case: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Everything the report needs about one finished episode, from its run record alone."""
    run_dir = Path(run_dir)
    events = _read_jsonl(run_dir / "events.jsonl")
    summary_path = run_dir / "summary.json"
    if not summary_path.exists():
        raise RuntimeError(f"{run_dir}: no summary.json, the run did not finish")
    summary = json.loads(summary_path.read_text())
    final = world_from_dict(summary["final_world"])
    recorded = _read_jsonl(run_dir / WORLDS)
    wave_worlds = [world_from_dict(r["world"]) for r in recorded if r.get("at") == "wave"]
    plan_worlds = {r.get("version", 0): r["world"] for r in recorded if r.get("at") == "plan"}
    kinds = [e["kind"] for e in events]
    expect = case.get("expect")

    checks = evaluate_checks(final, case.get("success", []))
    replies = [e for e in events if e["kind"] == "reply"]
    if expect is not None:
        got = replies[-1].get("reply_kind", "not_understood") if replies else None
        declined = got in ("not_understood", "question", "refused", "declined")
        success = (got == expect or (expect == "declined" and declined)) and "dispatch" not in kinds
    else:
        success = bool(checks) and all(c["ok"] for c in checks)

    plan_ok = "plan" in kinds and not ({"invalid_plan", "planning_failed", "reply"} & set(kinds))
    if expect is not None:
        plan_ok = success  # declining was the right plan
    subgoals = case.get("subgoals", [])
    chain_method = "waves" if wave_worlds else "final"
    chain = chain_length([*wave_worlds, final] if wave_worlds else [final], subgoals)
    outcomes = [e for e in events if e["kind"] == "outcome"]
    decisions = [e["decision"] for e in events if e["kind"] == "decision"]
    plans = [e for e in events if e["kind"] == "plan"]
    walls = [e["wall_time"] for e in events if "wall_time" in e]
    return {
        "success": success,
        "checks": checks,
        "expect": expect,
        "recorded_status": summary.get("status"),
        "understood": "understood" in kinds,
        "plan_ok": plan_ok,
        "plan_versions": len(plans),
        "plan_steps": len(plans[-1]["plan"].get("steps", [])) if plans else 0,
        "subgoals_total": len(subgoals),
        "subgoals_done": chain,
        "chain_method": chain_method,
        "failure": attribute(events, success, expect, plan_worlds),
        # Every problem found in a plan, repaired or not (LLM replies sent back, invalid plans).
        "plan_issues": dict(
            Counter(
                classify_issue(x)
                for e in events
                for x in (e.get("errors") or [] if e["kind"] == "llm_call" else e.get("issues") or [])
                if e["kind"] in ("llm_call", "invalid_plan")
            )
        ),
        "outcomes": len(outcomes),
        "failed_calls": dict(
            Counter(f"{e['skill']}:{e['reason']}" for e in outcomes if e["status"] == "failure")
        ),
        "retries": decisions.count("retry"),
        "replans": sum(d in ("replan", "repair") for d in decisions),
        **_llm_usage(summary, run_dir),
        "sim_time_s": round(float(final.time_s), 3),
        "episode_wall_s": round(walls[-1] - walls[0], 3) if len(walls) > 1 else 0.0,
        "spilled_ml": round(float(final.spilled_ml), 2),
        "reactions": [r.reaction for r in final.reactions],
    }


# -- statistics ---------------------------------------------------------------------------------------
def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n; (0, 1) when n == 0."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At k = 0 (k = n) the bound is exactly 0 (1); computed, it lands a rounding error inside (~1e-17).
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def fisher_exact(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher exact p-value for successes k1/n1 vs k2/n2 (sum of tables no likelier than seen)."""
    total_k, total = k1 + k2, n1 + n2
    if total == 0:
        return 1.0

    def prob(a: int) -> float:
        return math.comb(n1, a) * math.comb(n2, total_k - a) / math.comb(total, total_k)

    lo, hi = max(0, total_k - n2), min(n1, total_k)
    seen = prob(k1)
    return min(1.0, sum(p for a in range(lo, hi + 1) if (p := prob(a)) <= seen * (1 + 1e-7)))


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over result rows (dicts with status, success and metrics). Errors count as failures."""
    n = len(rows)
    ok = [r for r in rows if r["status"] == "ok"]
    m = [r["metrics"] for r in ok]
    k = sum(bool(r.get("success")) for r in rows)
    lo, hi = wilson(k, n)
    plan_ok = sum(bool(x.get("plan_ok")) for x in m)
    exec_ok = sum(bool(x.get("success")) for x in m if x.get("plan_ok"))
    chains = [x["subgoals_done"] for x in m if x.get("subgoals_total")]

    def mean(key: str) -> float:
        vals = [float(x.get(key) or 0) for x in m]
        return sum(vals) / len(vals) if vals else 0.0

    failures = Counter(
        f"{x['failure']['stage']}: {x['failure']['kind']}"
        + (f" ({x['failure']['skill']})" if x["failure"].get("skill") else "")
        for x in m
        if not x.get("success")
    )
    for r in rows:
        if r["status"] != "ok":
            failures[f"error: {r['status']}"] += 1
    return {
        "episodes": n,
        "successes": k,
        "success_rate": k / n if n else 0.0,
        "wilson95": (lo, hi),
        "errors": n - len(ok),
        "plan_success": plan_ok,
        "plan_success_rate": plan_ok / len(m) if m else 0.0,
        "exec_success": exec_ok,
        "exec_success_rate": exec_ok / plan_ok if plan_ok else 0.0,
        "avg_chain": sum(chains) / len(chains) if chains else 0.0,
        "chain_episodes": len(chains),
        "retries": mean("retries"),
        "replans": mean("replans"),
        "llm_calls": mean("llm_calls"),
        "tokens": mean("prompt_tokens") + mean("completion_tokens"),
        "llm_latency_s": mean("llm_latency_s"),
        "sim_time_s": mean("sim_time_s"),
        "wall_time_s": sum(float(r.get("wall_s") or 0) for r in rows) / n if n else 0.0,
        "spilled_ml": mean("spilled_ml"),
        "failures": dict(failures.most_common()),
    }
