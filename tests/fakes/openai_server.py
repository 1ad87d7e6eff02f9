"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions protocol, for tests and benches.

It answers ``POST /v1/chat/completions`` from a script of replies given by the test, in the output form
the request asked for: strict JSON-schema ``response_format`` -> JSON in the message content, ``tools``
-> one tool call, neither -> plain text. It records every request it received (``server.requests``).

    with FakeOpenAI([plan({...}), error(429, retry_after=0.1), plan({...})]) as server:
        OpenAI(base_url=server.base_url, api_key="k")...

``supports`` names the output modes the endpoint accepts; a request using another one gets a 400 without
using up the script (the way real servers reject ``response_format`` or ``tools``). A model not in
``models`` gets a 404. Usage numbers are estimated with a regex tokenizer (words and punctuation marks),
not a BPE; the server's own time per reply is sent in the ``x-server-ms`` header.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_TOKEN = re.compile(r"\w{1,4}|[^\w\s]")


def count_tokens(text: str) -> int:
    """A rough, offline token count: word pieces of up to 4 characters and punctuation marks."""
    return len(_TOKEN.findall(text))


@dataclass
class Scripted:
    """One scripted reply. ``body`` is a plan dict (sent in the requested form) or raw text."""

    plan: dict[str, Any] | None = None
    text: str | None = None
    status: int = 200
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    finish_reason: str = "stop"
    fenced: bool = False
    usage: tuple[int, int] | None = None


def plan(p: dict[str, Any], *, fenced: bool = False, delay_s: float = 0.0) -> Scripted:
    """Reply with this plan, in whatever form the request asked for."""
    return Scripted(plan=p, fenced=fenced, delay_s=delay_s)


def text(t: str, *, finish_reason: str = "stop", delay_s: float = 0.0) -> Scripted:
    """Reply with this exact text (in the content, or as the tool call's arguments in tools mode)."""
    return Scripted(text=t, finish_reason=finish_reason, delay_s=delay_s)


def error(status: int, message: str = "", *, retry_after: float | None = None, delay_s: float = 0.0):
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    return Scripted(
        status=status, message=message or f"scripted error {status}", headers=headers, delay_s=delay_s
    )


def _mode_of(body: dict[str, Any]) -> str:
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_schema":
        return "json_schema"
    if body.get("tools"):
        return "tools"
    return "json"


class FakeOpenAI:
    def __init__(
        self,
        script: list[Scripted] | None = None,
        *,
        supports: tuple[str, ...] = ("json_schema", "tools", "json"),
        models: tuple[str, ...] | None = None,
        default: Scripted | None = None,
    ) -> None:
        self.script = list(script or [])
        self.supports = supports
        self.models = models
        self.default = default
        self.requests: list[dict[str, Any]] = []
        self.served: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in separate writes: without this, Nagle + delayed ACK add 40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                t0 = time.perf_counter()
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    self._send(400, {"error": {"message": "body is not JSON"}}, t0)
                    return
                with fake._lock:
                    fake.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                        }
                    )
                status, payload, headers, delay = fake._answer(self.path, body)
                if delay:
                    time.sleep(delay)
                self._send(status, payload, t0, headers)

            def _send(self, status: int, payload: dict, t0: float, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.send_header("x-server-ms", f"{(time.perf_counter() - t0) * 1000:.3f}")
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests]

    # -- answers --------------------------------------------------------------------------------
    def _answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict, dict, float]:
        if not path.rstrip("/").endswith("/chat/completions"):
            return 404, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}}, {}, 0.0
        if self.models is not None and body.get("model") not in self.models:
            msg = f"The model `{body.get('model')}` does not exist or you do not have access to it."
            return (
                404,
                {"error": {"message": msg, "type": "invalid_request_error", "code": "model_not_found"}},
                {},
                0,
            )
        mode = _mode_of(body)
        if mode not in self.supports:
            what = "response_format json_schema" if mode == "json_schema" else mode
            return 400, {"error": {"message": f"{what} is not supported by this server"}}, {}, 0.0
        with self._lock:
            item = self.script.pop(0) if self.script else self.default
        if item is None:
            return 500, {"error": {"message": "the fake server's script is used up"}}, {}, 0.0
        self.served.append({"mode": mode, "status": item.status})
        if item.status != 200:
            err = {"error": {"message": item.message, "type": "scripted", "code": item.status}}
            return item.status, err, item.headers, item.delay_s
        content = item.text if item.text is not None else json.dumps(item.plan)
        if item.fenced:
            content = f"Here is the plan:\n```json\n{content}\n```"
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if mode == "tools":
            name = body["tools"][0]["function"]["name"]
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{len(self.requests)}",
                        "type": "function",
                        "function": {"name": name, "arguments": content},
                    }
                ],
            }
        prompt = json.dumps(body.get("messages", [])) + json.dumps(
            body.get("tools") or body.get("response_format") or ""
        )
        usage = item.usage or (count_tokens(prompt), count_tokens(content))
        reply = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake"),
            "choices": [
                {"index": 0, "message": message, "finish_reason": item.finish_reason, "logprobs": None}
            ],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
        }
        return 200, reply, {}, item.delay_s
