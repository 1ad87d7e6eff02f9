"""GR00T as a System-1 executor in the G1 lab: a slow server never stalls the loop, a bad reply ends the
call with a clear error, and ``tandem groot serve --replay`` answers like GR00T's ReplayPolicy."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fakes.groot_server import FakeGrootServer

from envs.rendering.offthread import THREAD_NAME as RENDER_THREAD
from envs.robots.g1.g1_constants import STATE_RANGES
from eval.bench.groot import GROUPS
from skills.library.walk_to import SPEC as WALK
from skills.library.walk_to import WalkToArgs
from skills.policies.groot.backend import GrootBackend
from skills.policies.groot.client import GrootClient

RIGHT = ("right_arm", "right_hand")


def _tick(env, executors, obs, world):
    """One control tick composed the way the runtime composes it: each executor writes its groups."""
    cmd: dict = {}
    parts = [ex.act(obs, world) for ex in executors]
    for part in parts:
        cmd.update(part)
    obs = env.step(cmd)
    return obs, env.world_state(), parts


@pytest.mark.parametrize("version", ["n1.5", "n1.6"])
def test_loop_keeps_ticking_while_the_server_is_slow(lab, version):
    with FakeGrootServer(version=version, fault="hold") as server:
        backend = GrootBackend(f"{server.url}?timeout=60")
        try:
            groot = backend.chunk_executor(lab, RIGHT, "pick up the red block", steps=10_000)
            walk = WALK.executor(lab, WalkToArgs(station="shelf"))
            obs, world = lab.observation(), lab.world_state()
            x0 = world.robot.base_pose[0]
            for ex in (groot, walk):
                ex.reset(obs, world)
            for _ in range(40):  # the server holds the first request: every tick is a late one
                obs, world, (g, w) = _tick(lab, (groot, walk), obs, world)
                assert g == {} and "base" in w  # the walk is commanded every tick regardless
            assert groot.stats()["late_ticks"] == 40
            assert abs(world.robot.base_pose[0] - x0) > 1e-3 or abs(world.robot.base_pose[1]) > 1e-3
            server.release()
            for _ in range(2000):  # ticks until the answer is in (each one a physics step, no sleeping)
                obs, world, (g, _w) = _tick(lab, (groot, walk), obs, world)
                if g:
                    break
            assert set(g) == set(RIGHT)
            # The fake ramps from the state it received: first action = state + 0.01 (under the speed limit).
            data = server.requests[-1]["data"]
            for group in RIGHT:
                obs_sent = data if version == "n1.5" else data["observation"]["state"]
                sent = obs_sent[f"state.{group}"][-1] if version == "n1.5" else obs_sent[group][0, -1]
                np.testing.assert_allclose(g[group], sent + 0.01, atol=1e-5)
            assert groot.stats()["chunks"] == 1 and groot.stats()["late_ticks"] > 40
        finally:
            backend.close()


def test_the_request_frame_is_rendered_off_the_control_thread_and_matches_an_on_thread_render(lab):
    with FakeGrootServer(version="n1.6", fault="hold") as server:
        backend = GrootBackend(f"{server.url}?timeout=60")
        try:
            groot = backend.chunk_executor(lab, RIGHT, "pick up the red block", steps=10_000)
            obs, world = lab.observation(), lab.world_state()
            groot.reset(obs, world)  # the request's tick: the simulator is not stepped until compared
            deadline = time.monotonic() + 120  # waits for the request to arrive; asserts no duration
            while not any(r.get("endpoint") == "get_action" for r in server.requests):
                assert time.monotonic() < deadline, "the request never reached the server"
                time.sleep(0.01)
            assert lab._renderers == {}  # no GL context was made on the control thread
            assert any(t.name.startswith(RENDER_THREAD) for t in threading.enumerate())
            request = next(r for r in server.requests if r.get("endpoint") == "get_action")
            sent = request["data"]["observation"]["video"]["ego_view"][0, -1]
            np.testing.assert_array_equal(sent, lab.render("ego_view", 224, 224))
            assert sent.std() > 5  # a real picture, not a blank frame
            server.release()
        finally:
            backend.close()


def test_a_bad_reply_ends_the_call_with_the_key_and_shapes(lab):
    with FakeGrootServer(fault="wrong_shape") as server:
        backend = GrootBackend(server.url)
        try:
            groot = backend.chunk_executor(lab, RIGHT, "pick", steps=100)
            obs, world = lab.observation(), lab.world_state()
            groot.reset(obs, world)
            for _ in range(2000):
                obs, world, _ = _tick(lab, (groot,), obs, world)
                if groot.error:
                    break
            assert groot.error is not None
            assert "action key 'right_arm': expected shape (1, 16, 7), got (1, 16, 6)" in groot.error
        finally:
            backend.close()


def test_unserved_group_is_refused_at_construction(lab):
    with FakeGrootServer(state={"left_arm": 7}, action={"left_arm": 7}) as server:
        backend = GrootBackend(server.url)
        with pytest.raises(ValueError, match=r"does not drive right_arm, right_hand \(it returns: left_arm"):
            backend.chunk_executor(lab, RIGHT, "pick", steps=10)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from eval.bench.groot import write_dataset

    start = np.linspace(-0.5, 0.5, 43).astype(np.float32)
    return write_dataset(tmp_path_factory.mktemp("ds") / "replay", start, frames=40)


def _serve(dataset: Path, *args: str) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "agent.cli.main", "groot", "serve", "--replay", str(dataset)]
    proc = subprocess.Popen(
        [*cmd, "--port", "0", "--host", "127.0.0.1", *args], stdout=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()  # printed once the socket is bound
    assert "server on tcp://127.0.0.1:" in line, line
    return proc, int(line.split("tcp://127.0.0.1:")[1].split(":")[0])


@pytest.mark.parametrize("version", ["n1.5", "n1.6"])
def test_replay_server_answers_like_grootss_replay_policy(dataset, version):
    import pyarrow.parquet as pq

    actions = np.asarray(
        pq.read_table(dataset / "data/chunk-000/episode_000000.parquet").column("action").to_pylist(),
        np.float32,
    )
    proc, port = _serve(dataset, "--version", version, "--token", "tk")
    try:
        client = GrootClient("127.0.0.1", port, token="tk", timeout_s=30)
        assert client.version == version
        spec = client.spec()
        assert spec.action_keys == [
            "left_leg",
            "right_leg",
            "waist",
            "left_arm",
            "left_hand",
            "right_arm",
            "right_hand",
        ]
        video = {"ego_view": np.zeros((64, 64, 3), np.uint8)}
        state = {k: np.zeros(b - a) for k, (a, b) in STATE_RANGES.items()}
        first = client.get_action(video, state, "wave")
        np.testing.assert_array_equal(first["right_arm"], actions[0:16, 29:36])
        second = client.get_action(video, state, "wave")
        np.testing.assert_array_equal(second["right_arm"], actions[8:24, 29:36])  # moved on by k = 8
        for _ in range(3):
            last = client.get_action(video, state, "wave")  # steps 32.. run past the 40 frames
        np.testing.assert_array_equal(last["waist"][-1], actions[-1, 12:15])  # the last action repeated
        if version == "n1.6":
            assert client.reset() == {"episode_index": 0, "episode_length": 40, "current_step": 0}
            np.testing.assert_array_equal(
                client.get_action(video, state, "wave")["waist"], actions[0:16, 12:15]
            )
        bad = dict(state, right_arm=np.zeros(6))
        with pytest.raises(RuntimeError, match=r"state key '(state\.)?right_arm': expected .*7\), got"):
            client.get_action(video, bad, "wave")
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


_PREDICT = """
import sys, numpy as np
from eval.bench.groot import untrained_checkpoint
from skills.policies.vla.policy import VLAPolicy
tiny = dict(image_size=(32, 32), vision_resolution=32, vision_channels=(8, 16), hidden=32, heads=2,
            vl_layers=1, dit_layers=1)
ckpt = untrained_checkpoint(__import__("pathlib").Path(sys.argv[1]), "pick up the red block", **tiny)
x = np.load(sys.argv[2])
policy = VLAPolicy.load(ckpt, device="cpu")
chunk = policy.predict(x["frame"][None], x["state"][None], ["pick up the red block"])
np.save(sys.argv[3], chunk[0])
"""


def test_served_vla_checkpoint_answers_what_it_predicts_in_process(tmp_path):
    # One wire version: both layouts are covered against the fake server; this is about the model. The
    # checkpoint is made and run in-process in a child process (torch stays out of this one).
    from eval.bench.groot import start_server

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    state = rng.normal(size=43).astype(np.float32)
    np.savez(tmp_path / "in.npz", frame=frame, state=state)
    ckpt = tmp_path / "ckpt"
    args = [str(ckpt), str(tmp_path / "in.npz"), str(tmp_path / "local.npy")]
    subprocess.run([sys.executable, "-c", _PREDICT, *args], check=True)
    local = np.load(tmp_path / "local.npy")
    proc, url = start_server(None, "n1.6", policy=ckpt)
    try:
        client = GrootClient.from_url(f"{url}?timeout=60")
        states = {k: state[a:b] for k, (a, b) in GROUPS.items()}
        chunk = client.get_action({"ego_view": frame}, states, "pick up the red block")
        for k, (a, b) in GROUPS.items():
            np.testing.assert_allclose(chunk[k], local[:, a:b], rtol=1e-5, atol=1e-5)
        with pytest.raises(RuntimeError, match="takes 32x32 frames, got 64x64"):
            client.get_action({"ego_view": np.zeros((64, 64, 3), np.uint8)}, states, "pick up the red block")
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_relative_actions_are_added_to_the_state_sent(lab, tmp_path):
    import yaml

    from skills.policies.groot.embodiment import HERE

    mapping = yaml.safe_load((HERE / "g1.yaml").read_text())
    mapping["action"]["right_hand"]["rep"] = "relative"
    path = tmp_path / "g1_relative.yaml"
    path.write_text(yaml.safe_dump(mapping))
    with FakeGrootServer(state={"right_arm": 7}, action={"right_arm": 7, "right_hand": 7}) as server:
        backend = GrootBackend(f"{server.url}?embodiment={path}")
        groot = backend.chunk_executor(lab, RIGHT, "pick", steps=10_000)
        obs, world = lab.observation(), lab.world_state()
        at_request = obs.state[36:43].copy()
        groot.reset(obs, world)  # the first request goes out with this observation
        for _ in range(2000):
            obs, world, (g,) = _tick(lab, (groot,), obs, world)
            if g:
                break
        request = server.requests[-1]["data"]["observation"]["state"]
        assert set(request) == {"right_arm"}  # only what the server asks for goes over the wire
        # The fake answers right_hand = 0.01 (it got no hand state); relative: added to the state then.
        np.testing.assert_allclose(g["right_hand"], at_request + 0.01, atol=1e-5)
        np.testing.assert_allclose(g["right_arm"], request["right_arm"][0, -1] + 0.01, atol=1e-5)
        backend.close()
