"""The SO-100 diagnostic arm: its scene loads through the env registry behind the Env protocol, with the
GR00T SO-100 layout, and its scripted IK expert completes the block task on several seeds (judged from
the simulator: the block rests in the zone, out of the jaws, after being carried)."""

from __future__ import annotations

import numpy as np
import pytest

from envs.base import Env
from envs.registry import make, make_scene
from envs.scene_schema import SceneError
from skills.controllers.so100 import SO100BlockExpert
from skills.policies.groot.embodiment import embodiment_for_robot

SEEDS = (0, 1, 2, 3)


@pytest.fixture(scope="module")
def so100():
    env = make_scene("so100_block", seed=0)
    yield env
    env.close()


def test_scene_loads_behind_the_env_protocol(so100):
    assert isinstance(so100, Env)
    emb = so100.embodiment
    assert emb.robot == "so100" and emb.state_dim == 6
    assert {g: v.size for g, v in emb.groups.items()} == {"single_arm": 5, "gripper": 1}
    assert set(so100.cameras) >= {"front", "wrist"}
    for cam in ("front", "wrist"):
        img = so100.render(cam, 64, 48)
        assert img.shape == (48, 64, 3) and img.std() > 5  # a picture, not a blank
    mapping = embodiment_for_robot(emb.robot)  # GR00T's so100 layout: single_arm 5 + gripper 1
    assert mapping.name == "so100"
    assert mapping.action_dims({g: v.size for g, v in emb.groups.items()}) == {"single_arm": 5, "gripper": 1}
    assert set(mapping.cameras.values()) <= set(so100.cameras)


def test_seeds_move_the_block_and_the_zone(so100):
    a = so100.reset(1) and so100.world_state().objects
    pa = (a["red_block"].pos, a["yellow_zone"].pos)
    b = so100.reset(2) and so100.world_state().objects
    assert pa != (b["red_block"].pos, b["yellow_zone"].pos)
    so100.reset(1)
    assert so100.world_state().objects["red_block"].pos == pa[0]


@pytest.mark.parametrize("seed", SEEDS)
def test_expert_moves_the_block_into_the_zone(so100, seed):
    obs = so100.reset(seed)
    world = so100.world_state()
    assert world.objects["red_block"].in_zone is None
    expert = SO100BlockExpert(so100)
    expert.reset(obs, world)
    carried = 0.0
    for _ in range(2000):
        if expert.finished:
            break
        obs = so100.step(expert.act(obs, world))
        world = so100.world_state()
        if world.robot.holding["gripper"] == "red_block":
            carried = max(carried, world.objects["red_block"].pos[2])
    assert expert.finished
    for _ in range(25):  # let it settle
        obs = so100.step({})
    block = so100.world_state().objects["red_block"]
    assert carried > 0.05  # lifted in the jaws, not pushed along the table
    assert block.in_zone == "yellow_zone" and block.held_by is None and block.tilt_deg < 10


def test_bad_command_and_scene_are_named(so100, tmp_path):
    with pytest.raises(ValueError, match=r"'single_arm' must be 5 finite values"):
        so100.step({"single_arm": np.zeros(4)})
    with pytest.raises(KeyError, match="the SO-100 has: single_arm, gripper"):
        so100.step({"left_arm": np.zeros(7)})
    bad = tmp_path / "bad.yaml"
    bad.write_text("block: {size: 0.5, mass: 1, rgba: [1, 0, 0, 1], x: 0, y: 0}\nzone: {}\ncameras: {}\n")
    with pytest.raises(SceneError, match=r"bad.yaml: bad SO-100 scene"):
        make("so100", scene=str(bad))


def test_planned_runs_refuse_the_arm_without_a_traceback(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from agent.cli.main import app

    monkeypatch.setenv("TANDEM_RUNS_DIR", str(tmp_path / "runs"))
    res = CliRunner().invoke(app, ["run", "move the red block to the yellow zone", "--scene", "so100_block"])
    assert res.exit_code == 2, res.output
    assert "--scene so100_block: built by the 'so100' backend, which has no skill library" in res.output
    assert "Traceback" not in res.output
