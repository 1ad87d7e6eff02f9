"""A ZeroMQ server speaking Isaac-GR00T's policy protocol, for tests and benches.

Written from the protocol as documented (../shared/reference/groot.md, GR00T's gr00t/eval/service.py at
n1.5-release and gr00t/policy/server_client.py at N1.6), not from Tandem's client: its own msgpack
codec, its own request handling.

- REP socket on 127.0.0.1; request ``{"endpoint", "data"?, "api_token"?}``, endpoint default get_action.
- msgpack; ndarray -> ``{"__ndarray_class__": True, "as_npy": np.save bytes}`` (allow_pickle=False);
  ModalityConfig -> ``{"__ModalityConfig_class__": True, "as_json": ...}``: a JSON string in N1.5
  (pydantic model_dump_json, prefixed keys), a dict in N1.6 (dataclass fields, enums by name).
- A wrong token -> ``{"error": "Unauthorized: Invalid API token"}``; an exception -> ``{"error": str(e)}``.
- N1.5 handlers take ``data`` positionally; its endpoints are ping, kill, get_action, get_modality_config.
  N1.6 handlers take ``**data``: get_action(observation, options) -> (action, info); reset(options).

``fault`` scripts misbehaviour: ``wrong_key`` (renames the first action key), ``wrong_shape`` (one joint
short), ``error`` (an error reply), ``garbage`` (raw b"ERROR"), ``silent`` (receives and never answers
until ``release()``), ``hold`` (the same for get_action only), and ``delay_s`` delays every get_action
reply.
"""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Any

import msgpack
import numpy as np
import zmq


def _enc(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        buf = io.BytesIO()
        np.save(buf, obj, allow_pickle=False)
        return {"__ndarray_class__": True, "as_npy": buf.getvalue()}
    raise TypeError(type(obj))


def _dec(obj: dict) -> Any:
    if "__ndarray_class__" in obj:
        return np.load(io.BytesIO(obj["as_npy"]), allow_pickle=False)
    return obj


class FakeGrootServer:
    """Args:
    version: "n1.5" or "n1.6".
    state: state key -> width (what get_action expects).
    action: action key -> width (what get_action returns).
    video: camera keys expected.
    horizon: action chunk length.
    token: api token required, or None.
    """

    def __init__(
        self,
        version: str = "n1.6",
        state: dict[str, int] | None = None,
        action: dict[str, int] | None = None,
        video: tuple[str, ...] = ("ego_view",),
        horizon: int = 16,
        token: str | None = None,
        language_key: str = "annotation.human.task_description",
        delay_s: float = 0.0,
        fault: str | None = None,
    ) -> None:
        self.version = version
        self.state = state if state is not None else {"right_arm": 7, "right_hand": 7}
        self.action = action if action is not None else dict(self.state)
        self.video = video
        self.horizon = horizon
        self.token = token
        self.language_key = language_key
        self.delay_s = delay_s
        self.fault = fault
        self.requests: list[dict[str, Any]] = []  # every decoded request, in order
        self.replies = 0
        self._release = threading.Event()
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)
        self.port = self._sock.bind_to_random_port("tcp://127.0.0.1")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"groot://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeGrootServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._release.set()
        self._thread.join(timeout=5)
        self._sock.close(linger=0)
        self._ctx.term()

    def release(self) -> None:
        """Let a ``silent`` server answer again (the held request is answered, then all others)."""
        self.fault = None
        self._release.set()

    # ----------------------------------------------------------------- protocol
    def _modality_config(self) -> dict[str, Any]:
        def cfg(delta: list[int], keys: list[str], action: bool = False) -> dict[str, Any]:
            if self.version == "n1.5":
                body: Any = json.dumps({"delta_indices": delta, "modality_keys": keys})
            else:
                body = {
                    "delta_indices": delta,
                    "modality_keys": keys,
                    "sin_cos_embedding_keys": None,
                    "mean_std_embedding_keys": None,
                    "action_configs": [
                        {"rep": "ABSOLUTE", "type": "NON_EEF", "format": "DEFAULT", "state_key": None}
                        for _ in keys
                    ]
                    if action
                    else None,
                }
            return {"__ModalityConfig_class__": True, "as_json": body}

        p = (lambda m, k: f"{m}.{k}") if self.version == "n1.5" else (lambda m, k: k)
        return {
            "video": cfg([0], [p("video", k) for k in self.video]),
            "state": cfg([0], [p("state", k) for k in self.state]),
            "action": cfg(list(range(self.horizon)), [p("action", k) for k in self.action], True),
            "language": cfg([0], [self.language_key]),
        }

    def _check(self, video: dict, state: dict, lang: Any, batched: bool) -> list[str]:
        lead = (1, 1) if batched else (1,)
        for k in self.video:
            v = video.get(k)
            assert v is not None, f"video key '{k}' must be in observation"
            assert v.dtype == np.uint8 and v.shape[: len(lead)] == lead and v.shape[-1] == 3, (
                f"video key '{k}' must be uint8 {(*lead, 'H', 'W', 3)}, got {v.dtype} {v.shape}"
            )
        for k, d in self.state.items():
            v = state.get(k)
            assert v is not None, f"state key '{k}' must be in observation"
            assert v.shape == (*lead, d), f"state key '{k}' must have shape {(*lead, d)}, got {v.shape}"
            if batched:
                assert v.dtype == np.float32, f"state key '{k}' must be float32, got {v.dtype}"
        if batched:
            assert isinstance(lang, list) and isinstance(lang[0], list), "language must be [[str]]"
            return [b[0] for b in lang]
        assert isinstance(lang, list) and len(lang) == 1, "annotation must be a list of one string"
        return list(lang)

    def _chunk(self, state: dict, batched: bool) -> dict[str, np.ndarray]:
        # Each action key holds a ramp from its state: a[t] = state + 0.01 * (t + 1).
        out = {}
        for k, d in self.action.items():
            base = np.zeros(d, np.float32)
            if k in state:
                base = np.asarray(state[k], np.float32).reshape(-1)[:d]
            a = base[None, :] + 0.01 * np.arange(1, self.horizon + 1, dtype=np.float32)[:, None]
            out[k] = a[None] if batched else a
        if self.fault == "wrong_key":
            first = next(iter(out))
            out[first + "_x"] = out.pop(first)
        if self.fault == "wrong_shape":
            first = next(iter(out))
            out[first] = out[first][..., :-1]
        return out

    def _get_action(self, data: dict) -> Any:
        if self.fault == "error":
            raise RuntimeError("CUDA out of memory (scripted)")
        if self.version == "n1.6":
            obs = data["observation"]
            text = self._check(obs["video"], obs["state"], obs["language"][self.language_key], True)
            chunk = self._chunk({k: v[0, -1] for k, v in obs["state"].items()}, True)
            return (chunk, {"instruction": text[0]})
        video = {k[6:]: v for k, v in data.items() if k.startswith("video.")}
        state = {k[6:]: v for k, v in data.items() if k.startswith("state.")}
        langs = [k for k in data if "annotation" in k]
        assert len(langs) == 1, f"exactly one annotation key, got {langs}"
        self._check(video, state, data[langs[0]], False)
        chunk = self._chunk({k: v[-1] for k, v in state.items()}, False)
        return {f"action.{k}": v for k, v in chunk.items()}

    def _handle(self, request: dict) -> Any:
        if self.token is not None and request.get("api_token") != self.token:
            return {"error": "Unauthorized: Invalid API token"}
        endpoint = request.get("endpoint", "get_action")
        data = request.get("data", {})
        if endpoint == "ping":
            return {"status": "ok", "message": "Server is running"}
        if endpoint == "get_modality_config":
            return self._modality_config()
        if endpoint == "get_action":
            if self.delay_s:
                time.sleep(self.delay_s)
            return self._get_action(data)
        if endpoint == "reset" and self.version == "n1.6":
            return {"reset": True, **(data.get("options") or {})}
        raise ValueError(f"Unknown endpoint: {endpoint}")

    def _serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(50):
                continue
            message = self._sock.recv()
            request = msgpack.unpackb(message, object_hook=_dec)
            self.requests.append(request)
            held = self.fault == "hold" and request.get("endpoint", "get_action") == "get_action"
            if self.fault == "silent" or held:
                self._release.wait()
                if self._stop.is_set():
                    return
            if self.fault == "garbage":
                self._sock.send(b"ERROR")
                continue
            try:
                reply = self._handle(request)
            except Exception as e:
                reply = {"error": str(e)}
            self._sock.send(msgpack.packb(reply, default=_enc))
            self.replies += 1
