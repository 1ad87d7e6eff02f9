"""Offscreen rendering: camera frames, PNG and MP4 output, the decimated-mesh cache, the render CLI."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from envs.rendering import VideoWriter, save_png


def _not_blank(frame: np.ndarray) -> bool:
    return frame.std() > 10 and len(np.unique(frame.reshape(-1, 3), axis=0)) > 50


def test_cameras_render_distinct_frames(lab) -> None:
    frames = {cam: lab.render(cam) for cam in ("ego_view", "third_person")}
    for frame in frames.values():
        assert frame.shape == (224, 224, 3) and frame.dtype == np.uint8
        assert _not_blank(frame)
    assert np.abs(frames["ego_view"].astype(int) - frames["third_person"]).mean() > 10


def test_unknown_camera_is_a_clear_error(lab) -> None:
    with pytest.raises(ValueError, match=r"unknown camera 'nope'.*ego_view"):
        lab.render("nope")


def test_antialias_and_floor_setup_leave_the_model_alone(lab) -> None:
    size, samples = lab.model.geom_size[lab._floor_geom].copy(), lab.model.vis.quality.offsamples
    smooth = lab.render("third_person", antialias=True)
    assert _not_blank(smooth) and not np.array_equal(smooth, lab.render("third_person"))
    assert np.array_equal(lab.model.geom_size[lab._floor_geom], size)
    assert lab.model.vis.quality.offsamples == samples


def test_png_round_trip(lab, tmp_path) -> None:
    frame = lab.render("ego_view")
    path = save_png(frame, tmp_path / "sub" / "ego.png")
    assert np.array_equal(np.asarray(Image.open(path)), frame)


def test_mp4_over_env_steps(lab, tmp_path) -> None:
    import imageio.v2 as imageio

    hold = {name: lab.observation().state[g.state_index] for name, g in lab.embodiment.groups.items()}
    with VideoWriter(tmp_path / "run.mp4", fps=10) as video:
        for _ in range(6):
            lab.step(hold)
            video.append(lab.render("third_person"))
    reader = imageio.get_reader(tmp_path / "run.mp4")
    frames = list(reader.iter_data())  # list(reader) preallocates its unknown (inf) length
    reader.close()
    assert video.frames == len(frames) == 6
    assert frames[0].shape == (224, 224, 3) and _not_blank(frames[-1])


def test_decimated_cache_is_made_once_and_reused(tmp_path, monkeypatch) -> None:
    import fast_simplification

    from envs.rendering import mesh_lod
    from envs.robots.g1.g1_model import load_g1_spec

    monkeypatch.setenv("TANDEM_CACHE_DIR", str(tmp_path))
    assert mesh_lod.cache_dir() == tmp_path / "meshes"
    swapped = mesh_lod.use_decimated_visual_meshes(load_g1_spec())
    files = sorted((tmp_path / "meshes").glob("*.npz"))
    assert swapped > 0 and len(files) == swapped
    mtimes = {f: f.stat().st_mtime_ns for f in files}

    def no_decimation(*args, **kwargs):
        raise AssertionError("the second build re-decimated a cached mesh")

    monkeypatch.setattr(fast_simplification, "simplify", no_decimation)
    spec = load_g1_spec()
    assert mesh_lod.use_decimated_visual_meshes(spec) == swapped
    assert {f: f.stat().st_mtime_ns for f in sorted((tmp_path / "meshes").glob("*.npz"))} == mtimes
    spec.compile()  # the cached copies make a valid model


def test_full_meshes_render() -> None:
    from envs.lab.env import G1LabEnv

    env = G1LabEnv(seed=0, mesh_quality="full")
    try:
        assert _not_blank(env.render("ego_view", 96, 96))
    finally:
        env.close()


def test_cli_render_writes_png(tmp_path) -> None:
    from agent.cli.main import app

    out = tmp_path / "ego.png"
    args = ["scene", "render", "--camera", "ego", "--out", str(out), "--width", "96", "--height", "64"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert np.asarray(Image.open(out)).shape == (64, 96, 3)


def test_cli_render_bad_camera_exits_2(tmp_path) -> None:
    from agent.cli.main import app

    out = tmp_path / "x.png"
    result = CliRunner().invoke(app, ["scene", "render", "--camera", "bogus", "--out", str(out)])
    assert result.exit_code == 2
    assert "unknown camera 'bogus'" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_follow_camera_rides_with_the_robot(lab) -> None:
    import mujoco

    cam = lab.model.camera("follow").id
    before = lab.data.cam_xpos[cam].copy()
    lab.data.qpos[lab.model.jnt_qposadr[lab.model.joint("base_y").id]] += 2.5  # to the shelf
    mujoco.mj_forward(lab.model, lab.data)
    assert np.allclose(lab.data.cam_xpos[cam] - before, [0.0, 2.5, 0.0], atol=1e-6)
    assert _not_blank(lab.render("follow"))


def test_run_video_with_a_bad_camera_is_refused_before_anything_runs(tmp_path, monkeypatch) -> None:
    from agent.cli.main import app

    monkeypatch.setenv("TANDEM_RUNS_DIR", str(tmp_path / "runs"))
    args = ["run", "move the red block", "--video", str(tmp_path / "x.mp4"), "--camera", "top"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "unknown camera 'top'" in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "runs").exists()


def test_gl_backend_is_chosen_headless_and_a_missing_one_is_a_one_line_hint(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "DISPLAY", "WAYLAND_DISPLAY")}
    probe = "import os, envs, mujoco; print(os.environ.get('MUJOCO_GL'))"
    chosen = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert chosen.stdout.strip() in ("egl", "osmesa")  # CI installs both; never GLFW without a display

    cmd = [sys.executable, "-m", "agent.cli.main", "scene", "render", "--out", str(tmp_path / "x.png")]
    glfw = subprocess.run(cmd, env={**env, "MUJOCO_GL": "glfw"}, capture_output=True, text=True)
    assert glfw.returncode == 2, glfw.stderr
    assert "Traceback" not in glfw.stderr
    assert "cannot render offscreen with MUJOCO_GL=glfw" in glfw.stderr and "apt-get install" in glfw.stderr


def test_frames_drawn_off_thread_leave_the_simulation_as_it_was(lab) -> None:
    """The same 40 ticks from the same state, once while frames of it are drawn on the render thread
    (each request overlapping the steps after it) and once without: the physics is bit for bit the same,
    and an unknown camera is refused on the calling thread."""
    arm = lab.embodiment.groups["right_arm"]
    start = lab.snapshot()

    def ticks(draw: bool) -> tuple[np.ndarray, list]:
        lab.restore(start)
        pending = []
        for i in range(40):
            if draw and i % 5 == 0:
                pending.append(lab.render_later(["ego_view", "right_wrist"], 96, 96))
            lab.step({"right_arm": lab.observation().state[arm.state_index] + 0.3})
        frames = [p.result() for p in pending]
        return lab.data.qpos.copy(), frames

    drawn_q, frames = ticks(True)
    plain_q, _ = ticks(False)
    np.testing.assert_array_equal(drawn_q, plain_q)
    assert len(frames) == 8 and all(f["ego_view"].shape == (96, 96, 3) for f in frames)
    assert np.abs(frames[0]["right_wrist"].astype(int) - frames[-1]["right_wrist"]).max() > 0  # it moved
    with pytest.raises(ValueError, match="unknown camera 'nope'"):
        lab.render_later(["nope"])
