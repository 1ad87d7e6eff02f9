"""GrootClient: Isaac-GR00T's ZeroMQ REQ/REP policy protocol, with the timeouts GR00T's own client lacks.

Every request is ``{"endpoint", "data"?, "api_token"?}``; a reply ``{"error": ...}`` (or the raw bytes
``ERROR``) is the server refusing. A REQ socket that timed out is stuck between send and receive, so after
a timeout the socket is dropped and the next request opens a new one: one dead answer costs one chunk,
never the connection.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import zmq

from skills.policies.groot.protocol import ServerSpec, decode_action, encode_observation
from skills.policies.groot.wire import VERSIONS, Version, pack, unpack

DEFAULT_PORT = 5555
DEFAULT_TIMEOUT_S = 10.0


class GrootError(RuntimeError):
    """Talking to a GR00T server failed; the message says which server, which endpoint and why."""


class GrootTimeout(GrootError):
    """The server did not answer within the timeout."""


class GrootServerError(GrootError):
    """The server answered with an error."""


@dataclass(frozen=True)
class GrootURL:
    """``groot://HOST:PORT[?version=n1.5|n1.6&token=T&timeout=S&embodiment=g1&k=8&fps=20&say=SENTENCE]``.

    ``fps`` is the rate of the server's actions (its training data's fps; the mapping's by default).
    ``say`` (URL-quoted) is sent as the instruction of every call instead of the sentence rendered from
    the call (the prompt probe of ``tandem diagnose``).
    Without ``token=`` the token is read from ``TANDEM_GROOT_TOKEN`` (so it stays out of run records).
    """

    host: str
    port: int = DEFAULT_PORT
    version: Version | None = None
    token: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    embodiment: str | None = None
    k: int | None = None
    fps: float | None = None
    say: str | None = None

    @classmethod
    def parse(cls, url: str) -> GrootURL:
        if "://" not in url:
            url = "groot://" + url
        u = urlparse(url)
        if u.scheme != "groot":
            raise ValueError(f"'{url}': a GR00T server is groot://HOST:PORT[?version=n1.5|n1.6&token=...]")
        try:
            port = u.port or DEFAULT_PORT
        except ValueError:
            raise ValueError(f"'{url}': the port must be a number") from None
        if not u.hostname:
            raise ValueError(f"'{url}': no host (groot://HOST:PORT)")
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        unknown = set(q) - {"version", "token", "timeout", "embodiment", "k", "fps", "say"}
        if unknown:
            raise ValueError(
                f"'{url}': unknown option(s) {', '.join(sorted(unknown))}; "
                "options: version, token, timeout, embodiment, k, fps, say"
            )
        version = q.get("version")
        if version is not None and version not in VERSIONS:
            raise ValueError(f"'{url}': version must be one of {', '.join(VERSIONS)}, got '{version}'")
        try:
            timeout = float(q.get("timeout", DEFAULT_TIMEOUT_S))
            k = int(q["k"]) if "k" in q else None
            fps = float(q["fps"]) if "fps" in q else None
        except ValueError as e:
            raise ValueError(f"'{url}': {e}") from None
        if timeout <= 0 or (k is not None and k < 1) or (fps is not None and fps <= 0):
            raise ValueError(f"'{url}': timeout and fps must be > 0, k >= 1")
        token = q.get("token") or os.environ.get("TANDEM_GROOT_TOKEN") or None
        say = q.get("say", "").strip() or None
        return cls(u.hostname, port, version, token, timeout, q.get("embodiment"), k, fps, say)  # type: ignore[arg-type]

    @property
    def address(self) -> str:
        return f"tcp://{self.host}:{self.port}"


class GrootClient:
    """Args:
    host, port: the server (``tcp://host:port``).
    version: ``n1.5`` or ``n1.6``; None reads it from the server's modality config on first use.
    token: the server's api token, if it was started with one.
    timeout_s: the longest any request may take before GrootTimeout.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = DEFAULT_PORT,
        version: Version | None = None,
        token: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.host, self.port, self.token, self.timeout_s = host, port, token, timeout_s
        self._version = version
        self._ctx = zmq.Context.instance()
        self._sock: zmq.Socket | None = None
        self._lock = threading.Lock()
        self._spec: ServerSpec | None = None
        self.reconnects = 0

    @classmethod
    def from_url(cls, url: str | GrootURL) -> GrootClient:
        u = url if isinstance(url, GrootURL) else GrootURL.parse(url)
        return cls(u.host, u.port, u.version, u.token, u.timeout_s)

    @property
    def address(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    # ----------------------------------------------------------------- transport
    def _socket(self) -> zmq.Socket:
        if self._sock is None:
            s = self._ctx.socket(zmq.REQ)
            s.setsockopt(zmq.LINGER, 0)
            s.connect(self.address)
            self._sock = s
        return self._sock

    def _drop_socket(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
            self.reconnects += 1

    def call(self, endpoint: str, data: dict[str, Any] | None = None, timeout_s: float | None = None) -> Any:
        """One request/reply. ``data`` None sends no ``data`` field (endpoints without input)."""
        request: dict[str, Any] = {"endpoint": endpoint}
        if data is not None:
            request["data"] = data
        if self.token:
            request["api_token"] = self.token
        payload = pack(request)
        timeout = self.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            sock = self._socket()
            ms = max(1, int(timeout * 1000))
            try:
                if not sock.poll(ms, zmq.POLLOUT):
                    raise zmq.Again()
                sock.send(payload, zmq.NOBLOCK)
                if not sock.poll(ms, zmq.POLLIN):
                    raise zmq.Again()
                message = sock.recv(zmq.NOBLOCK)
            except zmq.ZMQError:
                self._drop_socket()
                raise GrootTimeout(
                    f"GR00T server {self.address} did not answer '{endpoint}' within {timeout:g} s "
                    "(is it running, and is the port right?)"
                ) from None
        if message == b"ERROR":
            raise GrootServerError(f"GR00T server {self.address} answered ERROR to '{endpoint}'")
        try:
            reply = unpack(message)
        except Exception as e:
            raise GrootError(
                f"GR00T server {self.address}: the reply to '{endpoint}' is not GR00T's msgpack ({e})"
            ) from None
        if isinstance(reply, dict) and "error" in reply:
            err = str(reply["error"])
            hint = " (check the api token: groot://HOST:PORT?token=...)" if "Unauthorized" in err else ""
            raise GrootServerError(f"GR00T server {self.address} refused '{endpoint}': {err}{hint}")
        return reply

    # ----------------------------------------------------------------- endpoints
    def ping(self) -> float:
        """Round-trip seconds of a ``ping``; raises if the server does not answer ok."""
        t0 = time.perf_counter()
        reply = self.call("ping")
        dt = time.perf_counter() - t0
        if not (isinstance(reply, dict) and reply.get("status") == "ok"):
            raise GrootError(f"GR00T server {self.address}: unexpected ping reply {reply!r}")
        return dt

    def get_modality_config(self) -> dict[str, Any]:
        reply = self.call("get_modality_config")
        if not isinstance(reply, dict):
            raise GrootError(f"GR00T server {self.address}: modality config is not a dict: {reply!r}")
        return reply

    def spec(self) -> ServerSpec:
        """What the server expects and returns (read once, with its version)."""
        if self._spec is None:
            self._spec = ServerSpec.from_modality_config(self.get_modality_config(), self._version)
            self._version = self._spec.version
        return self._spec

    @property
    def version(self) -> Version:
        return self.spec().version

    def reset(self, options: dict[str, Any] | None = None) -> Any:
        """Start a new episode on the server. N1.5 servers have no ``reset`` endpoint: nothing to do."""
        if self.version == "n1.5":
            return None
        return self.call("reset", {"options": options})

    def get_action(
        self,
        video: dict[str, np.ndarray],
        state: dict[str, np.ndarray],
        instruction: str,
        expected_dims: dict[str, int] | None = None,
    ) -> dict[str, np.ndarray]:
        """One observation (frames ``(H, W, 3)`` uint8, states ``(D,)``) -> ``{group: (horizon, D)}``.

        The request is built for the server's version; the reply is checked against its modality
        config and ``expected_dims`` (errors name the key, the expected and the received shape).
        """
        spec = self.spec()
        obs = encode_observation(spec, video, state, instruction)
        data = {"observation": obs, "options": None} if spec.version == "n1.6" else obs
        return decode_action(spec, self.call("get_action", data), expected_dims, self.address)

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close(linger=0)
                self._sock = None
