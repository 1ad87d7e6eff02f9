"""GR00T's wire protocol, N1.5 and N1.6, against a server written from the protocol's description
(tests/fakes/groot_server.py): layouts on the wire, and every failure a clear error within the timeout."""

from __future__ import annotations

import time

import numpy as np
import pytest
from fakes.groot_server import FakeGrootServer

from skills.policies.groot.client import GrootClient, GrootServerError, GrootTimeout, GrootURL
from skills.policies.groot.protocol import ProtocolError

VERSIONS = ("n1.5", "n1.6")
DIMS = {"right_arm": 7, "right_hand": 7}
TIMEOUT_S = 1.0


def _obs():
    video = {"ego_view": np.full((224, 224, 3), 7, np.uint8)}
    state = {"right_arm": np.arange(7, dtype=np.float64), "right_hand": np.zeros(7), "waist": np.zeros(3)}
    return video, state


def _client(server: FakeGrootServer, query: str = "") -> GrootClient:
    return GrootClient.from_url(f"{server.url}?timeout={TIMEOUT_S}{'&' + query if query else ''}")


@pytest.mark.parametrize("version", VERSIONS)
def test_round_trip_layout_on_the_wire(version):
    with FakeGrootServer(version=version) as server:
        client = _client(server)
        assert client.ping() > 0
        assert client.version == version  # read from the modality config's encoding
        video, state = _obs()
        chunk = client.get_action(video, state, "pick up the red block", DIMS)
        assert {k: v.shape for k, v in chunk.items()} == {"right_arm": (16, 7), "right_hand": (16, 7)}
        # The fake ramps from the state it received: the values crossed the wire intact.
        np.testing.assert_allclose(chunk["right_arm"][0], state["right_arm"] + 0.01, atol=1e-6)
        np.testing.assert_allclose(chunk["right_arm"][15], state["right_arm"] + 0.16, atol=1e-6)
        req = server.requests[-1]
        assert req["endpoint"] == "get_action"
        if version == "n1.5":
            obs = req["data"]
            assert obs["video.ego_view"].shape == (1, 224, 224, 3) and obs["video.ego_view"].dtype == np.uint8
            assert obs["state.right_arm"].shape == (1, 7)
            assert obs["annotation.human.task_description"] == ["pick up the red block"]
            assert "state.waist" not in obs  # only what the server's modality config asks for
            assert client.reset() is None  # N1.5 has no reset endpoint
        else:
            assert set(req["data"]) == {"observation", "options"}
            obs = req["data"]["observation"]
            assert obs["video"]["ego_view"].shape == (1, 1, 224, 224, 3)
            assert (
                obs["state"]["right_arm"].shape == (1, 1, 7) and obs["state"]["right_arm"].dtype == np.float32
            )
            assert obs["language"] == {"annotation.human.task_description": [["pick up the red block"]]}
            assert client.reset({"episode_index": 2}) == {"reset": True, "episode_index": 2}


@pytest.mark.parametrize("version", VERSIONS)
def test_wrong_key_names_the_key(version):
    with FakeGrootServer(version=version, fault="wrong_key") as server:
        video, state = _obs()
        with pytest.raises(ProtocolError, match=r"lacks action key\(s\) 'right_arm'.*right_arm_x"):
            _client(server).get_action(video, state, "pick", DIMS)


@pytest.mark.parametrize("version", VERSIONS)
def test_wrong_shape_names_key_expected_and_received(version):
    with FakeGrootServer(version=version, fault="wrong_shape") as server:
        video, state = _obs()
        want = r"\(16, 7\), got \(16, 6\)" if version == "n1.5" else r"\(1, 16, 7\), got \(1, 16, 6\)"
        with pytest.raises(ProtocolError, match=rf"action key '(action\.)?right_arm': expected shape {want}"):
            _client(server).get_action(video, state, "pick", DIMS)


def test_missing_state_group_is_refused_before_sending():
    with FakeGrootServer(state={"right_arm": 7, "neck": 2}) as server:
        video, state = _obs()
        with pytest.raises(ProtocolError, match=r"wants state group 'neck'.*provides: right_arm"):
            _client(server).get_action(video, state, "pick", DIMS)
        assert not any(r["endpoint"] == "get_action" for r in server.requests)


def test_server_side_shape_check_comes_back_as_a_clear_error():
    # The server expects a 6-wide right_hand: its own check fails and it answers {"error": ...}.
    with FakeGrootServer(state={"right_arm": 7, "right_hand": 6}, action=DIMS) as server:
        video, state = _obs()
        with pytest.raises(
            GrootServerError, match=r"refused 'get_action'.*right_hand.*\(1, 1, 6\).*\(1, 1, 7\)"
        ):
            _client(server).get_action(video, state, "pick", DIMS)


@pytest.mark.parametrize("fault", ["error", "garbage"])
def test_error_reply(fault):
    with FakeGrootServer(fault=fault) as server:
        video, state = _obs()
        with pytest.raises(GrootServerError, match="CUDA out of memory" if fault == "error" else "ERROR"):
            _client(server).get_action(video, state, "pick", DIMS)


@pytest.mark.parametrize("version", VERSIONS)
def test_token(version):
    with FakeGrootServer(version=version, token="s3cret") as server:
        with pytest.raises(GrootServerError, match=r"Unauthorized: Invalid API token.*token="):
            _client(server, "token=wrong").ping()
        assert _client(server, "token=s3cret").ping() > 0
        assert server.requests[-1]["api_token"] == "s3cret"


def test_silent_server_times_out_then_the_client_reconnects():
    with FakeGrootServer(fault="silent") as server:
        client = _client(server)
        t0 = time.perf_counter()
        with pytest.raises(GrootTimeout, match=rf"did not answer 'ping' within {TIMEOUT_S:g} s"):
            client.ping()
        assert time.perf_counter() - t0 < TIMEOUT_S + 5  # bounded, not forever
        server.release()
        assert client.ping() > 0  # a fresh socket: the stuck REQ was dropped
        assert client.reconnects == 1


def test_nobody_listening_times_out():
    with FakeGrootServer() as server:
        port = server.port
    with pytest.raises(GrootTimeout, match="is it running"):
        GrootClient("127.0.0.1", port, timeout_s=0.3).ping()


def test_version_flag_must_match_the_server():
    with (
        FakeGrootServer(version="n1.6") as server,
        pytest.raises(ProtocolError, match=r"version=n1.5 was asked for.*n1.6 format"),
    ):
        _client(server, "version=n1.5").spec()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://x:1", "groot://HOST:PORT"),
        ("groot://x:1?version=n2", "version must be one of"),
        ("groot://x:1?colour=red", "unknown option"),
        ("groot://x:abc", "port must be a number"),
    ],
)
def test_bad_urls(url, match):
    with pytest.raises(ValueError, match=match):
        GrootURL.parse(url)


def test_npy_codec_is_np_save_byte_for_byte_and_never_unpickles():
    import io

    from skills.policies.groot.wire import npy_array, npy_bytes

    rng = np.random.default_rng(0)
    arrays = [
        rng.random((16, 7)).astype(np.float32),
        rng.random(43),
        rng.integers(0, 255, (1, 1, 8, 8, 3), dtype=np.uint8),
        np.asfortranarray(rng.random((5, 3))),
        rng.random((2, 6))[:, ::2],
        np.arange(4, dtype=">i4"),
        np.array(2.5),
    ]
    for a in arrays:
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        assert npy_bytes(a) == buf.getvalue()
        back = npy_array(buf.getvalue())
        assert back.dtype == a.dtype and back.shape == a.shape and np.array_equal(back, a)
    with pytest.raises(ValueError, match="allow_pickle=False"):
        npy_bytes(np.array([{"a": 1}], dtype=object))
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle=False"):
        npy_array(buf.getvalue())  # a pickled array from a server is refused, not loaded
