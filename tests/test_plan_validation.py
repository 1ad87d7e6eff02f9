"""Plan validation: every problem is reported with the step id and why."""

from __future__ import annotations

import re

import pytest

from planner.schema import Plan
from planner.validate import validate_plan
from skills.spec import SceneNames
from skills.symbolic import SymbolicState


@pytest.fixture(scope="module")
def lab_env():
    from envs.lab.env import G1LabEnv

    env = G1LabEnv(seed=0)
    yield env
    env.close()


@pytest.fixture(scope="module")
def world(lab_env):
    return lab_env.world_state()


def _issues(world, steps):
    plan = Plan.model_validate({"reason": "test", "steps": steps})
    return validate_plan(plan, SceneNames.from_world(world), SymbolicState.from_world(world))


def test_a_valid_plan_has_no_issues(world):
    steps = [
        {"id": "go", "skill": "walk_to", "args": {"station": "shelf"}},
        {
            "id": "p",
            "skill": "pick",
            "args": {"object": "hydrogen_peroxide_bottle", "hand": "right"},
            "after": ["go"],
        },
        {"id": "back", "skill": "walk_to", "args": {"station": "bench"}, "after": ["p"]},
        {
            "id": "pour",
            "skill": "pour",
            "args": {"source": "hydrogen_peroxide_bottle", "target": "flask", "volume_ml": 50},
            "after": ["back"],
        },
    ]
    assert _issues(world, steps) == []


def test_unknown_skill_is_named_with_its_step(world):
    (issue,) = _issues(world, [{"id": "s1", "skill": "teleport", "args": {}}])
    assert (issue.step_id, issue.kind) == ("s1", "unknown_skill")
    assert "teleport" in issue.message and "walk_to" in issue.message


def test_bad_and_hallucinated_arguments(world):
    issues = _issues(
        world,
        [
            {"id": "a", "skill": "pick", "args": {"object": "beaker_of_doom"}},
            {"id": "b", "skill": "pour", "args": {"source": "flask", "target": "flask", "volume_ml": -3}},
            {"id": "c", "skill": "walk_to", "args": {"station": "bench", "speed": 9}},
        ],
    )
    by_step = {i.step_id: i for i in issues}
    assert by_step["a"].kind == "bad_args" and "unknown object 'beaker_of_doom'" in by_step["a"].message
    assert by_step["b"].kind == "bad_args" and "volume_ml" in by_step["b"].message
    assert by_step["c"].kind == "bad_args" and "speed" in by_step["c"].message


def test_unmet_preconditions_along_the_plan(world):
    issues = _issues(
        world,
        [
            {
                "id": "p",
                "skill": "pick",
                "args": {"object": "soap_bottle", "hand": "left"},
            },  # it is on the shelf
            {
                "id": "q",
                "skill": "pour",
                "args": {"source": "soap_bottle", "target": "flask", "volume_ml": 10, "hand": "right"},
                "after": ["p"],
            },
        ],
    )
    assert [(i.step_id, i.kind) for i in issues] == [("p", "precondition"), ("q", "precondition")]
    assert "walk_to shelf" in issues[0].message
    assert "right hand must hold 'soap_bottle'" in issues[1].message


def test_preconditions_follow_dependency_order_not_listing_order(world):
    steps = [
        {"id": "p", "skill": "pick", "args": {"object": "red_block"}, "after": ["h"]},
        {"id": "h", "skill": "home", "args": {"arm": "right"}},
    ]
    assert _issues(world, steps) == []


def test_dependency_problems(world):
    issues = _issues(
        world,
        [
            {"id": "a", "skill": "wait", "args": {"seconds": 1}, "after": ["b"]},
            {"id": "b", "skill": "wait", "args": {"seconds": 1}, "after": ["a"]},
            {"id": "c", "skill": "wait", "args": {"seconds": 1}, "after": ["zzz"]},
            {"id": "c", "skill": "wait", "args": {"seconds": 1}},
        ],
    )
    kinds = {(i.step_id, i.kind) for i in issues}
    assert ("c", "unknown_dependency") in kinds and ("c", "duplicate_id") in kinds


def test_cycles_are_reported(world):
    issues = _issues(
        world,
        [
            {"id": "a", "skill": "wait", "args": {"seconds": 1}, "after": ["b"]},
            {"id": "b", "skill": "wait", "args": {"seconds": 1}, "after": ["a"]},
        ],
    )
    assert [(i.step_id, i.kind) for i in issues] == [("a", "cycle")]


def test_malformed_plans_fail_at_the_schema():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="steps"):
        Plan.model_validate({"reason": "x"})
    with pytest.raises(ValidationError, match="id"):
        Plan.model_validate({"steps": [{"id": "has space", "skill": "wait"}]})


def test_an_unreachable_pick_is_rejected_with_where_the_object_is(lab_env, world):
    from skills.reach import Workspace

    plan = Plan.model_validate(
        {
            "steps": [
                {"id": "left", "skill": "pick", "args": {"object": "red_block", "hand": "left"}},
                {"id": "right", "skill": "pick", "args": {"object": "red_block", "hand": "right"}},
            ]
        }
    )
    names, state = SceneNames.from_world(world), SymbolicState.from_world(world)
    # Each pick on its own: the left hand cannot reach the block on the robot's right, the right hand can.
    for step, reachable in (("left", False), ("right", True)):
        one = Plan(steps=[plan.step(step)])
        issues = validate_plan(one, names, state, workspace=Workspace(lab_env, world))
        assert (issues == []) == reachable, issues
    (issue,) = validate_plan(
        Plan(steps=[plan.step("left")]), names, state, workspace=Workspace(lab_env, world)
    )
    assert issue.kind == "unreachable" and issue.step_id == "left"
    assert re.fullmatch(r"red_block is \d\.\d\d m right of the left hand's workspace", issue.message), issue
    assert str(issue).startswith("step 'left': unreachable: red_block is")
    # Without a workspace (no env at hand) only the symbolic checks run.
    assert validate_plan(Plan(steps=[plan.step("left")]), names, state) == []


def test_goal_predicates_are_validated_like_steps(world):
    steps = [{"id": "w", "skill": "wait", "args": {"seconds": 0.1}}]
    goals = [
        {"predicate": "object_in_zone", "params": {"object": "red_block", "zone": "yellow_zone"}},
        {"predicate": "teleported", "params": {}},
        {"predicate": "robot_at", "params": {"place": "shelf"}},
        {"predicate": "object_in_zone", "params": {"object": "red_block", "zone": "blue_zone"}},
    ]
    plan = Plan.model_validate({"steps": steps, "goal": goals})
    issues = validate_plan(plan, SceneNames.from_world(world), SymbolicState.from_world(world))
    assert [i.kind for i in issues] == ["unknown_predicate", "bad_goal", "bad_goal"]
    assert "goal[1] teleported: unknown predicate 'teleported'" in str(issues[0])
    assert "robot_at" in str(issues[1]) and "station" in str(issues[1])
    assert "zone 'blue_zone' is not one of yellow_zone" in str(issues[2])


def test_every_failure_reason_in_the_code_is_in_the_vocabulary():
    import pathlib

    from agent import outcome
    from skills.reasons import REASONS

    root = pathlib.Path(__file__).resolve().parents[1]
    said = {getattr(outcome, n) for n in outcome.__all__ if n.isupper()}
    for path in root.glob("skills/library/*.py"):
        text = path.read_text()
        said |= set(re.findall(r'Verdict\(\s*"failure",\s*"(\w+)"', text))
        said |= set(re.findall(r'"(\w+)" if not held', text))  # pick: not_grasped / not_lifted
        said |= set(re.findall(r'(?:if ok|if got < [\w.]+) else "(\w+)"', text)) - {"failure"}
        if 'f"not_{word}"' in text:  # open_hand / close_hand
            said |= {"not_open", "not_closed"}
    assert {"not_grasped", "misplaced", "too_little", "not_home", "dropped", "unreachable"} <= said
    assert said <= set(REASONS), said - set(REASONS)
