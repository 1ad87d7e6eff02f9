"""Scene files: bad ones fail with one readable SceneError (file, field, what was expected), on the API and
through ``tandem scene info``; the shipped ones load and run."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agent.cli.main import app
from envs.scene_schema import SCENES_DIR, SceneError, load_scene

ROOT = Path(__file__).resolve().parents[1]


def _g1_lab() -> dict:
    return yaml.safe_load((SCENES_DIR / "g1_lab.yaml").read_text())


def _type(r: dict) -> None:
    r["objects"]["red_block"]["type"] = "blok"


def _volume(r: dict) -> None:
    r["objects"]["flask"]["container"]["capacity_ml"] = -250


def _missing(r: dict) -> None:
    del r["stations"]["bench"]["table"]


def _liquid(r: dict) -> None:
    r["objects"]["soap_bottle"]["container"]["contents"] = {"acetone": 50}


def _station(r: dict) -> None:
    r["objects"]["red_block"]["station"] = "fume_hood"


def _start(r: dict) -> None:
    r["robot"]["start_station"] = "fume_hood"


def _extra(r: dict) -> None:
    r["objects"]["red_block"]["colour"] = "red"


def _range(r: dict) -> None:
    r["objects"]["red_block"]["pose"]["x"] = [0.38, 0.32]


# (break the scene, the field the message must name, words saying what was expected)
BAD = {
    "unknown_object_type": (_type, "objects.red_block.type", ["'block'", "'bottle'", "'zone'", "blok"]),
    "negative_volume": (_volume, "objects.flask.container.capacity_ml", ["greater than 0", "-250"]),
    "missing_field": (_missing, "stations.bench.table", ["required"]),
    "unknown_liquid": (
        _liquid,
        "objects.soap_bottle.container.contents.acetone",
        ["unknown liquid", "hydrogen_peroxide"],
    ),
    "bad_station_ref": (
        _station,
        "objects.red_block.station",
        ["fume_hood", "expected one of", "bench", "shelf"],
    ),
    "bad_start_station": (_start, "robot.start_station", ["fume_hood", "expected one of", "bench"]),
    "unknown_field": (_extra, "objects.red_block.colour", ["not permitted"]),
    "reversed_range": (_range, "objects.red_block.pose.x", ["min > max"]),
}


@pytest.fixture(params=sorted(BAD))
def bad_scene(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str, list[str]]:
    breaker, field, expected = BAD[request.param]
    raw = _g1_lab()
    breaker(raw)
    path = tmp_path / f"{request.param}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path, field, expected


def _flat(text: str) -> str:
    """Without whitespace: terminal wrapping (rich wraps stderr at its width) cannot split a match."""
    return "".join(text.split())


def test_unbroken_copy_loads(tmp_path: Path) -> None:
    # Each bad case differs from this good file by the one broken field only.
    path = tmp_path / "good.yaml"
    path.write_text(yaml.safe_dump(_g1_lab()))
    cfg = load_scene(path)
    assert set(cfg.stations) == {"bench", "shelf"}


def test_bad_scene_raises_scene_error_naming_file_and_field(bad_scene: tuple[Path, str, list[str]]) -> None:
    path, field, expected = bad_scene
    with pytest.raises(SceneError) as e:
        load_scene(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: invalid scene")
    assert f"  {field}: " in msg, msg  # the dotted path, on its own line, as the thing that is wrong
    for word in expected:
        assert word in msg, f"{word!r} not in {msg!r}"
    # A readable message, not a pydantic dump.
    assert "pydantic" not in msg and "errors.pydantic.dev" not in msg and "validation error" not in msg
    assert "(top level)" not in msg
    assert len(msg.splitlines()) <= 3
    assert e.value.__cause__ is None or isinstance(e.value.__cause__, OSError | yaml.YAMLError)


def test_cli_scene_info_bad_scene_exits_2_with_message(bad_scene: tuple[Path, str, list[str]]) -> None:
    path, field, expected = bad_scene
    result = CliRunner().invoke(app, ["scene", "info", "--scene", str(path)])
    assert result.exit_code == 2, result.output
    err = _flat(result.stderr)
    assert _flat(str(path)) in err
    assert _flat(field) in err
    for word in expected:
        assert _flat(word) in err
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an escaped exception


def test_cli_bad_scene_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    raw = _g1_lab()
    _type(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "scene", "info", "--scene", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert proc.returncode == 2
    assert "objects.red_block.type" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_unknown_scene_name_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SceneError, match=r"unknown scene 'no_such_lab'.*bench_block.*g1_lab"):
        load_scene("no_such_lab")
    with pytest.raises(SceneError, match="no such scene file"):
        load_scene(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("robot: {base: holonomic\n")
    with pytest.raises(SceneError, match=f"{broken}: not valid YAML"):
        load_scene(broken)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(SceneError, match="expected a mapping"):
        load_scene(listy)


def test_scene_name_defaults_to_file_stem(tmp_path: Path) -> None:
    raw = copy.deepcopy(_g1_lab())
    del raw["name"]
    path = tmp_path / "my_lab.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert load_scene(path).name == "my_lab"


def test_cli_scene_info_json() -> None:
    result = CliRunner().invoke(app, ["scene", "info", "--json", "--seed", "2"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert {"stations", "objects", "containers", "joint_groups"} <= set(info)
    assert set(info["stations"]) == {"bench", "shelf"}
    assert info["stations"]["shelf"]["robot_pose"] == [0.0, 2.5, 0.0]
    assert {"red_block", "flask", "hydrogen_peroxide_bottle"} <= set(info["objects"])
    assert info["objects"]["red_block"]["station"] == "bench"
    assert info["containers"]["hydrogen_peroxide_bottle"]["contents_ml"] == {"hydrogen_peroxide": 250.0}
    assert len(info["joint_groups"]["right_arm"]) == 7
    assert info["joint_groups"]["base"] == ["vx", "vy", "yaw_rate"]
    assert info["locomotion"] == "walker" and info["base_mode"] == "floating"  # g1_lab walks by default


def test_bench_block_scene_loads_and_runs() -> None:
    import numpy as np

    from envs.lab.env import G1LabEnv

    cfg = load_scene("bench_block")
    assert set(cfg.stations) == {"bench"} and set(cfg.objects) == {"red_block", "yellow_zone"}
    env = G1LabEnv("bench_block", seed=4, mesh_quality="full")
    try:
        ws0 = env.world_state()
        assert ws0.stations == ["bench"] and ws0.robot.station == "bench" and ws0.containers == {}
        block0 = np.array(ws0.objects["red_block"].pos)
        arm = env.embodiment.groups["left_arm"]
        target = env.data.ctrl[arm.ctrl_index] + np.array([0.3, 0.3, 0, 0, 0, 0, 0])
        for _ in range(100):
            obs = env.step({"left_arm": target, "base": (0.0, 0.0, 0.0)})
        ws = env.world_state()
        assert env.unstable is None and ws.unstable is None
        assert ws.time_s == pytest.approx(100 * env.control_dt)
        assert np.allclose(obs.state[arm.state_index][:2], target[:2], atol=0.05)  # the arm went there
        assert ws.objects["red_block"].station == "bench"
        assert np.linalg.norm(np.array(ws.objects["red_block"].pos) - block0) < 0.001  # untouched, unmoved
        assert ws.objects["red_block"].pos[2] == pytest.approx(0.80 + 0.02, abs=0.002)  # on the table
    finally:
        env.close()
