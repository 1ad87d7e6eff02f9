"""GrootServer: serves a policy over Isaac-GR00T's ZeroMQ protocol (N1.5 or N1.6 wire), so GR00T's own
clients, and Tandem's, can drive a robot from it."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import zmq

from skills.policies.groot.protocol import (
    ProtocolError,
    Request,
    ServerSpec,
    decode_observation,
    encode_action,
)
from skills.policies.groot.wire import pack, unpack


class ServedPolicy(Protocol):
    spec: ServerSpec
    state_dims: dict[str, int]

    def get_action(self, request: Request) -> tuple[dict[str, np.ndarray], dict[str, Any]]: ...

    def reset(self, options: dict[str, Any] | None = None) -> dict[str, Any]: ...


class GrootServer:
    """Args:
    policy: what answers (its ``spec`` says the version, keys and horizon).
    port, host: where to bind (``tcp://host:port``; port 0 picks a free one).
    token: the api token requests must carry, or None.
    log: called with a line per request error (stderr by default).
    delay_s: added before every get_action answer (to rehearse a slow server).
    """

    def __init__(
        self,
        policy: ServedPolicy,
        port: int = 5555,
        host: str = "*",
        token: str | None = None,
        log: Callable[[str], None] | None = None,
        delay_s: float = 0.0,
    ) -> None:
        self.policy, self.token, self.delay_s = policy, token, delay_s
        self.log = log or (lambda s: print(s, file=sys.stderr, flush=True))
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)
        try:
            if port == 0:
                self.port = self._sock.bind_to_random_port(f"tcp://{host}")
            else:
                self._sock.bind(f"tcp://{host}:{port}")
                self.port = port
        except zmq.ZMQError as e:
            self._sock.close()
            raise OSError(f"cannot listen on tcp://{host}:{port}: {e}") from None
        self._stop = threading.Event()
        self.requests = 0

    @property
    def version(self) -> str:
        return self.policy.spec.version

    def _handle(self, request: Any) -> Any:
        if not isinstance(request, dict):
            raise ProtocolError("a request is a dict {'endpoint', 'data', 'api_token'}")
        if self.token is not None and request.get("api_token") != self.token:
            return {"error": "Unauthorized: Invalid API token"}
        endpoint = request.get("endpoint", "get_action")
        data = request.get("data") or {}
        if endpoint == "ping":
            return {"status": "ok", "message": "Server is running"}
        if endpoint == "kill":
            self._stop.set()
            return {"status": "ok", "message": "Server is stopping"}
        if endpoint == "get_modality_config":
            return self.policy.spec.modality_config()
        if endpoint == "get_action":
            req = decode_observation(self.policy.spec, data, self.policy.state_dims)
            chunk, info = self.policy.get_action(req)
            if self.delay_s:
                time.sleep(self.delay_s)
            return encode_action(self.policy.spec, chunk, info)
        if endpoint == "reset" and self.version == "n1.6":
            return self.policy.reset(data.get("options"))
        raise ValueError(f"Unknown endpoint: {endpoint}")

    def serve_forever(self) -> None:
        """Answer requests until ``stop()`` or a ``kill`` request."""
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(100):
                continue
            message = self._sock.recv()
            self.requests += 1
            try:
                reply = self._handle(unpack(message))
            except ProtocolError as e:
                reply = {"error": str(e)}
                self.log(f"request {self.requests}: {e}")
            except Exception as e:
                reply = {"error": f"{type(e).__name__}: {e}"}
                self.log(f"request {self.requests}: {traceback.format_exc()}")
            self._sock.send(pack(reply))
        self._sock.close(linger=0)
        self._ctx.term()

    def stop(self) -> None:
        self._stop.set()
