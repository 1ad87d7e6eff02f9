"""The offline planner: requests matched to recipes with their parameters, unknown requests answered with
what it can do, plans that validate on the real lab, and expansion from a changed world that emits only
what is still needed."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from envs.base import ReactionState, WorldState
from planner import backend
from planner.offline import Intent, OfflinePlanner, PlanningError, Reply
from planner.offline.backend import OfflineBackend
from planner.offline.recipes import RECIPES_DIR, RecipeError, load_library
from planner.schema import Plan
from planner.validate import validate_plan
from skills.spec import SceneNames
from skills.symbolic import SymbolicState

# (request, recipe, parameters it must carry)
REQUESTS = [
    (
        "prepare elephant toothpaste",
        "elephant_toothpaste",
        {"peroxide_ml": 60, "soap_ml": 10, "catalyst_ml": 20, "flask": "flask", "hand": "auto"},
    ),
    ("do the toothpaste experiment with the left hand", "elephant_toothpaste", {"hand": "left"}),
    ("make the foam volcano", "elephant_toothpaste", {"hand": "auto"}),
    (
        "move the red block to the yellow zone",
        "move_object",
        {"object": "red_block", "zone": "yellow_zone", "hand": "auto"},
    ),
    ("bring the soap to the bench", "fetch_object", {"object": "soap_bottle", "station": "bench"}),
    (
        "pour 50 ml of hydrogen peroxide into the flask",
        "pour_volume",
        {"source": "hydrogen_peroxide_bottle", "target": "flask", "volume_ml": 50},
    ),
]
PARAPHRASES = [
    (
        "make elephant toothpaste with 80 ml of peroxide and 15 ml of soap",
        "elephant_toothpaste",
        {"peroxide_ml": 80, "soap_ml": 15, "catalyst_ml": 20, "flask": "flask"},
    ),
    ("let's do the elephant toothpaste reaction", "elephant_toothpaste", {}),
    (
        "put the block in the yellow zone using the left hand",
        "move_object",
        {"object": "red_block", "hand": "left"},
    ),
    ("could you put the red block into the yellow area", "move_object", {"zone": "yellow_zone"}),
    ("take the catalyst to the bench", "fetch_object", {"object": "catalyst_cup", "station": "bench"}),
    ("carry the soap bottle to the shelf", "fetch_object", {"object": "soap_bottle", "station": "shelf"}),
    (
        "pour 30 ml of soap into the graduated cylinder",
        "pour_volume",
        {"source": "soap_bottle", "target": "graduated_cylinder", "volume_ml": 30},
    ),
    (
        "add 10 ml of dish soap to the flask",
        "pour_volume",
        {"source": "soap_bottle", "target": "flask", "volume_ml": 10},
    ),
]
TOOTHPASTE = "prepare elephant toothpaste"


@pytest.fixture(scope="session")
def planner() -> OfflinePlanner:
    p = OfflinePlanner()
    _ = p.matcher  # the embedding model loads once for the whole session
    return p


@pytest.fixture(scope="module")
def env():
    from envs.lab.env import G1LabEnv

    e = G1LabEnv(seed=0)
    yield e
    e.close()


@pytest.fixture
def world(env) -> WorldState:
    env.reset(seed=0)
    return env.world_state()


def _intent(planner: OfflinePlanner, text: str, world: WorldState) -> Intent:
    got = planner.understand(text, world)
    assert isinstance(got, Intent), got
    return got


def _issues(plan: Plan, world: WorldState) -> list[str]:
    return [
        str(i) for i in validate_plan(plan, SceneNames.from_world(world), SymbolicState.from_world(world))
    ]


def _ancestors(plan: Plan, step_id: str) -> set[str]:
    out: set[str] = set()
    todo = list(plan.step(step_id).after)
    while todo:
        s = todo.pop()
        if s not in out:
            out.add(s)
            todo.extend(plan.step(s).after)
    return out


def _find(plan: Plan, skill: str, **args: object) -> list[str]:
    return [s.id for s in plan.steps if s.skill == skill and all(s.args.get(k) == v for k, v in args.items())]


# ----------------------------------------------------------------- understanding


@pytest.mark.parametrize(("text", "recipe", "params"), REQUESTS + PARAPHRASES)
def test_request_matches_recipe_and_params(planner, world, text, recipe, params):
    got = _intent(planner, text, world)
    assert got.recipe == recipe
    assert {k: got.params[k] for k in params} == params
    assert got.score >= planner.threshold


@pytest.mark.parametrize("text", ["bake a cake", "what time is it", "tell me a joke"])
def test_unknown_request_lists_what_is_known(planner, world, text):
    got = planner.understand(text, world)
    assert isinstance(got, Reply) and got.kind == "not_understood"
    assert got.known == planner.library.titles() and len(got.known) >= 4
    assert all(title in got.message for title in got.known)


def test_missing_volume_is_asked_not_guessed(planner, world):
    got = planner.understand("pour the peroxide into the flask", world)
    assert isinstance(got, Reply) and got.kind == "question"
    assert "volume_ml" in got.message


# Negated and contrary requests: several phrasings of each kind, all resembling a recipe closely enough to
# have been executed before meaning was checked (the toothpaste ones scored 0.84-0.96).
CONTRARY = {
    "negation": [
        "do not prepare elephant toothpaste",
        "don't move the red block to the yellow zone",
        "Please don’t pour any peroxide into the flask",
        "never bring the soap to the bench",
        "no need to make the foam volcano",
    ],
    "stop": ["stop the toothpaste experiment", "halt the foam volcano", "cancel moving the red block"],
    "undo": [
        "undo the toothpaste experiment",
        "clean up after the toothpaste experiment",
        "revert the last pour into the flask",
    ],
    "destroy": [
        "knock the red block off the table",
        "throw away the soap",
        "throw the catalyst cup away",
        "empty the flask onto the table",
        "pour the peroxide out on the floor",
        "spill the soap on the bench",
    ],
    "remove": ["take the red block out of the yellow zone", "remove the flask from the tray"],
}


@pytest.mark.parametrize(
    ("kind", "text"), [(kind, text) for kind, texts in CONTRARY.items() for text in texts]
)
def test_negated_and_contrary_requests_are_declined_or_asked_never_planned(planner, world, kind, text):
    got = planner.understand(text, world)
    assert isinstance(got, Reply), (text, got)
    assert got.message.startswith("I will not do this:")
    # A safe reading (put things back, put it elsewhere) is asked about; the rest is declined.
    assert got.kind == ("question" if kind in ("undo", "remove") else "declined")


@pytest.mark.parametrize(
    "text",
    [
        "pour 40 ml of soap into the flask without spilling",
        "take the soap bottle back to the shelf",
        "drop the cup on the zone",
        "pour 30 ml of soap into the empty graduated cylinder",
    ],
)
def test_requests_that_only_look_contrary_are_still_planned(planner, world, text):
    assert isinstance(planner.understand(text, world), Intent), text


def test_cue_lists_are_data_with_clear_errors(tmp_path):
    from planner.meaning import CueError, load_cues

    bad = tmp_path / "cues.yaml"
    bad.write_text("cues:\n  - kind: maybe\n    phrases: [do not]\n    say: x\n")
    with pytest.raises(CueError, match=r"cues.yaml: invalid cue file\n  cues.0.kind"):
        load_cues(bad)


def test_a_near_tie_the_parameters_cannot_break_is_asked_not_guessed(planner, world):
    # fetch_object 0.712, pour_volume 0.692: each is given one object and misses the rest.
    got = planner.understand("bring the peroxide over", world)
    assert isinstance(got, Reply) and got.kind == "question"
    assert "Did you mean to" in got.message and "bring an object to a station" in got.message


def test_a_clear_winner_carries_its_lead_and_a_weak_match_asks_for_confirmation(planner, world):
    strong = _intent(planner, TOOTHPASTE, world)
    assert strong.lead > 0.5 and not strong.weak
    weak = _intent(planner, "do the experiment", world)  # 0.53: above the threshold, below CONFIDENT
    assert weak.recipe == "elephant_toothpaste" and weak.weak
    understood = OfflineBackend(planner).understand("do the experiment", world)
    assert isinstance(understood, backend.Understood)
    assert understood.confirm and "weak match" in understood.confirm
    assert OfflineBackend(planner).understand(TOOTHPASTE, world).confirm is None


def test_a_hand_that_cannot_reach_is_replaced_by_the_other_one(planner, world):
    intent = _intent(planner, "move the red block to the yellow zone with the left hand", world)
    assert _find(planner.plan(intent, world), "pick", object="red_block", hand="left")
    repaired = planner.plan(intent, world, avoid={"red_block": {"left"}})
    assert _find(repaired, "pick", object="red_block", hand="right")
    assert _find(repaired, "place", object="red_block", hand="right")


# ----------------------------------------------------------------- plans


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_recipe_plans_and_validates(planner, env, seed):
    env.reset(seed=seed)
    w = env.world_state()
    covered = set()
    for text, recipe, _ in REQUESTS:
        plan = planner.plan(_intent(planner, text, w), w)
        assert plan.steps, text
        assert _issues(plan, w) == [], text
        covered.add(recipe)
    assert covered == set(planner.library.recipes)


def test_toothpaste_catalyst_last_then_step_back(planner, world):
    plan = planner.plan(_intent(planner, TOOTHPASTE, world), world)
    (peroxide,) = _find(plan, "pour", source="hydrogen_peroxide_bottle", volume_ml=60)
    (soap,) = _find(plan, "pour", source="soap_bottle", volume_ml=10)
    (catalyst,) = _find(plan, "pour", source="catalyst_cup", volume_ml=20)
    assert {peroxide, soap} <= _ancestors(plan, catalyst)
    last = plan.steps[-1]
    assert last.skill == "step_back"
    assert _ancestors(plan, last.id) == {s.id for s in plan.steps[:-1]}
    # Two trips to the shelf: two hands carry the peroxide and the soap, the catalyst comes second.
    assert len(_find(plan, "walk_to", station="shelf")) == 2


def test_shelf_picks_by_reach_run_in_parallel(planner, world):
    plan = planner.plan(_intent(planner, TOOTHPASTE, world), world)
    (peroxide,) = _find(plan, "pick", object="hydrogen_peroxide_bottle", hand="right")  # on the robot's right
    (soap,) = _find(plan, "pick", object="soap_bottle", hand="left")  # on its left
    assert peroxide not in _ancestors(plan, soap) and soap not in _ancestors(plan, peroxide)


def test_named_hand_overrides_reach(planner, world):
    plan = planner.plan(_intent(planner, "do the toothpaste experiment with the left hand", world), world)
    assert _find(plan, "pick", object="hydrogen_peroxide_bottle", hand="left")
    assert _find(plan, "pick", object="soap_bottle", hand="right")  # the left one is busy by then


def test_carried_objects_are_held_during_the_walk(planner, world):
    plan = planner.plan(_intent(planner, "bring the soap to the bench", world), world)
    (hold,) = _find(plan, "hold", object="soap_bottle", hand="left")
    (walk,) = _find(plan, "walk_to", station="bench")
    assert hold not in _ancestors(plan, walk) and walk not in _ancestors(plan, hold)
    assert _find(plan, "pick", object="soap_bottle")[0] in _ancestors(plan, walk)
    (place,) = _find(plan, "place", object="soap_bottle")
    assert plan.step(place).args["location"] == "bench"
    last = plan.steps[-1]
    assert last.skill == "home" and place in _ancestors(plan, last.id)  # arms tucked once the hands are empty


def test_each_hold_starts_with_the_walk_it_carries_through(planner, world):
    """A wave ends when everything but holds is decided, and its holds end with it: a hold that waited
    only for its own pour started beside the soap pour, ended with it, and left the peroxide's arm to the
    walker on the walk back."""
    plan = planner.plan(_intent(planner, TOOTHPASTE, world), world)
    walks = [s for s in plan.steps if s.skill == "walk_to"]
    holds = [s for s in plan.steps if s.skill == "hold"]
    assert len(walks) == 4 and len(holds) == 5
    for hold in holds:
        walk = next(w for w in walks if plan.steps.index(w) > plan.steps.index(hold))
        assert _ancestors(plan, hold.id) == _ancestors(plan, walk.id), (hold.id, walk.id)


# ----------------------------------------------------------------- expansion from a changed world


def test_peroxide_already_in_flask_is_not_fetched_again(planner, world):
    w = copy.deepcopy(world)
    w.containers["flask"].contents_ml["hydrogen_peroxide"] = 60.0
    plan = planner.plan(_intent(planner, TOOTHPASTE, w), w)
    assert not [s for s in plan.steps if "hydrogen_peroxide_bottle" in s.args.values()]
    assert _find(plan, "pour", source="soap_bottle") and _find(plan, "pour", source="catalyst_cup")
    assert len(_find(plan, "walk_to", station="shelf")) == 1  # a hand was free: the catalyst came along
    assert _issues(plan, w) == []


def test_partial_pour_is_topped_up(planner, world):
    w = copy.deepcopy(world)
    w.containers["flask"].contents_ml["hydrogen_peroxide"] = 30.0
    plan = planner.plan(_intent(planner, TOOTHPASTE, w), w)
    assert _find(plan, "pour", source="hydrogen_peroxide_bottle", volume_ml=30.0)
    assert _issues(plan, w) == []


def test_resume_carrying_both_bottles_at_the_bench(planner, world):
    w = copy.deepcopy(world)
    for hand, obj in (("right", "hydrogen_peroxide_bottle"), ("left", "soap_bottle")):
        w.robot.holding[hand] = obj
        w.objects[obj].held_by = hand
    plan = planner.plan(_intent(planner, TOOTHPASTE, w), w)
    assert plan.steps[0].skill == "pour" and plan.steps[0].args["source"] == "hydrogen_peroxide_bottle"
    assert not _find(plan, "pick", object="hydrogen_peroxide_bottle") and not _find(
        plan, "pick", object="soap_bottle"
    )
    assert _issues(plan, w) == []


def test_goal_already_met_gives_empty_plan(planner, world):
    w = copy.deepcopy(world)
    w.reactions.append(ReactionState("elephant_toothpaste", "flask", 1.0, 1.0))
    intent = _intent(planner, TOOTHPASTE, w)
    assert planner.goal_met(intent, w)[0]
    assert [name for name, _ in planner.checks(intent, subgoals=True)] == [
        "container_holds",
        "container_holds",
        "reaction_fired",
    ]
    assert planner.checks(intent, subgoals=True)[0][1]["min_ml"] == 54.0  # 60 ml less the pour tolerance
    assert planner.plan(intent, w).steps == []
    assert not planner.goal_met(intent, world)[0]

    w = copy.deepcopy(world)
    w.objects["red_block"].in_zone = "yellow_zone"
    assert planner.plan(_intent(planner, "move the red block to the yellow zone", w), w).steps == []


def test_object_off_every_table_is_a_planning_error(planner, world):
    w = copy.deepcopy(world)
    w.objects["soap_bottle"].station = None  # fell to the floor
    with pytest.raises(PlanningError, match="station_of"):
        planner.plan(_intent(planner, "bring the soap to the bench", w), w)


def test_backend_adapter_round_trips_the_intent(planner, world):
    b = OfflineBackend(planner)
    got = b.understand(TOOTHPASTE, world)
    assert isinstance(got, backend.Understood)
    assert _issues(b.plan(got.task, world), world) == []
    assert b.goal_met(got.task, world)[0] is False
    assert isinstance(b.understand("bake a cake", world), backend.Reply)


# ----------------------------------------------------------------- recipe files


@pytest.mark.parametrize(
    ("file", "old", "new", "field", "expected"),
    [
        (
            "elephant_toothpaste.yaml",
            "- reaction_fired: {container: $flask",
            "- reaction_fird: {container: $flask",
            "recipes.elephant_toothpaste.goal.0",
            "unknown predicate",
        ),
        ("objects.yaml", "task: fetch", "task: fech", "recipes.move_object.do.0.task", "unknown task"),
        (
            "common.yaml",
            "{robot_at: $station}",
            "{robot_at: $statoin}",
            "tasks.go_to.do.0.unless.0.robot_at.station",
            "expected one of: station",
        ),
        (
            "pour.yaml",
            "volume_ml: {type: volume}",
            "volume_ml: {type: volume, default: -5}",
            "recipes.pour_volume.params.volume_ml",
            "a number of ml",
        ),
        ("common.yaml", "skill: place", "skill: plase", "tasks.put_down.do.0.do.1", "unknown skill 'plase'"),
    ],
)
def test_broken_recipe_file_names_file_and_field(tmp_path: Path, file, old, new, field, expected):
    shutil.copytree(RECIPES_DIR, tmp_path, dirs_exist_ok=True)
    path = tmp_path / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(RecipeError) as e:
        load_library(tmp_path)
    assert str(path) in str(e.value) and field in str(e.value) and expected in str(e.value)


def test_shipped_recipes_declare_goals_and_texts():
    lib = load_library()
    assert {"elephant_toothpaste", "move_object", "fetch_object", "pour_volume"} <= set(lib.recipes)
    for recipe in lib.recipes.values():
        assert recipe.goal and recipe.aliases and recipe.examples
