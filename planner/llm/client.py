"""The chat client: one request -> one reply, with retries, backoff, clear errors, a record and replay.

Every try is written to ``RUN_DIR/llm.jsonl`` (request body, its canonical hash, the reply or the error,
latency, usage), the API key scrubbed from anything written. ``ReplayTransport`` answers from such a file
instead of a server, in order, and fails with ``ReplayMismatch`` when a request differs from the recorded
one (compared by the hash of the canonical JSON of the whole request: messages, tools, schema, model).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from planner.llm.config import LLMConfig

LOG = "llm.jsonl"
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
TIMEOUT, UNREACHABLE = -1, 0


class LLMError(RuntimeError):
    """The LLM planner could not get a usable reply."""


class LLMUnavailable(LLMError):
    """The endpoint cannot be used (unreachable, timing out, wrong model, refused key, rate limited)."""


class ModeRejected(LLMError):
    """The server answered 400: it does not accept this output mode (or this request)."""


class ReplayMismatch(LLMError):
    """A replayed run sent a request that differs from the recording."""


def canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "[redacted]") if secret and len(secret) >= 4 else text


@dataclass
class Result:
    """What one HTTP try gave: status 200 with the response, an HTTP error status, TIMEOUT or UNREACHABLE."""

    status: int
    response: dict[str, Any] | None = None
    error: str = ""
    retry_after: float | None = None
    server_ms: float | None = None


class Transport(Protocol):
    def send(self, body: dict[str, Any]) -> Result: ...


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class LiveTransport:
    """An OpenAI-compatible endpoint through the ``openai`` client (its own retries off: ours count)."""

    def __init__(self, cfg: LLMConfig) -> None:
        from openai import OpenAI

        self.cfg = cfg
        self.client = OpenAI(
            base_url=cfg.base_url, api_key=cfg.api_key or "no-key", timeout=cfg.timeout_s, max_retries=0
        )

    def send(self, body: dict[str, Any]) -> Result:
        import openai

        try:
            raw = self.client.chat.completions.with_raw_response.create(**body)
            response = json.loads(raw.text)
            return Result(200, response, server_ms=_float(raw.headers.get("x-server-ms")))
        except openai.APITimeoutError:
            return Result(TIMEOUT, error=f"no reply within {self.cfg.timeout_s:g} s")
        except openai.APIConnectionError as e:
            cause = e.__cause__ or e
            return Result(UNREACHABLE, error=f"cannot connect to {self.cfg.base_url}: {cause}")
        except openai.APIStatusError as e:
            message = e.message
            if isinstance(e.body, dict):
                message = str(e.body.get("message") or (e.body.get("error") or {}).get("message") or message)
            return Result(
                e.status_code, error=message, retry_after=_float(e.response.headers.get("retry-after"))
            )


class ReplayTransport:
    """Answers from a recorded ``llm.jsonl``, in order, checking each request against the recording."""

    def __init__(self, run_dir: str | Path) -> None:
        path = Path(run_dir) / LOG
        if not path.is_file():
            raise FileNotFoundError(f"nothing to replay: no {LOG} in {run_dir}")
        lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        self.session: dict[str, Any] = next((x for x in lines if x.get("type") == "session"), {})
        self.exchanges = [x for x in lines if x.get("type") == "exchange"]
        self.path = path
        self.pos = 0

    def send(self, body: dict[str, Any]) -> Result:
        if self.pos >= len(self.exchanges):
            raise ReplayMismatch(
                f"replay of {self.path}: the planner sent request #{self.pos + 1}, but only "
                f"{len(self.exchanges)} were recorded"
            )
        rec = self.exchanges[self.pos]
        self.pos += 1
        if request_hash(body) != rec["request_hash"]:
            raise ReplayMismatch(
                f"replay of {self.path}: request #{self.pos} differs from the recording "
                f"({first_difference(rec['request'], body)}); the world state is part of the request: "
                "replay with the recorded run's goal, scene and --seed"
            )
        return Result(**rec["result"])


def first_difference(a: Any, b: Any, path: str = "") -> str:
    """Where two JSON values first differ, e.g. ``messages[1].content: '...' != '...'``."""
    if type(a) is not type(b):
        return f"{path or 'request'}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in the {'recording' if k in a else 'new request'}"
            if a[k] != b[k]:
                return first_difference(a[k], b[k], f"{path}.{k}" if path else k)
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
        if len(a) != len(b):
            return f"{path}: {len(a)} items recorded, {len(b)} now"
    if isinstance(a, str) and isinstance(b, str):
        i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        return f"{path}: recorded {a[max(0, i - 30) : i + 40]!r} != now {b[max(0, i - 30) : i + 40]!r}"
    return f"{path}: recorded {a!r} != now {b!r}"


class LLMLog:
    """llm.jsonl in the run folder (append-only, one JSON object a line, the API key scrubbed)."""

    def __init__(self, run_dir: Path | None, secret: str = "") -> None:
        self.path = None if run_dir is None else Path(run_dir) / LOG
        self.secret = secret
        self._file = None if self.path is None else self.path.open("a", encoding="utf-8")

    def write(self, entry: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(redact(json.dumps(entry, ensure_ascii=False), self.secret) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class Call:
    """One request as the backend sees it: the reply and what it cost."""

    response: dict[str, Any]
    latency_s: float  # all tries, backoff included
    http_s: float  # inside the transport, all tries
    server_s: float  # the server's own time, when it says (x-server-ms)
    tries: int


class ChatClient:
    def __init__(
        self,
        cfg: LLMConfig,
        transport: Transport,
        log: LLMLog,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfg, self.transport, self.log, self.sleep = cfg, transport, log, sleep
        self.seq = 0

    def complete(self, body: dict[str, Any], meta: dict[str, Any]) -> Call:
        """One reply for ``body``; ``meta`` (call, attempt, mode) goes into each record line."""
        cfg = self.cfg
        t0 = time.perf_counter()
        http_s = server_s = 0.0
        digest = request_hash(body)
        for attempt in range(cfg.max_retries + 1):
            t1 = time.perf_counter()
            result = self.transport.send(body)
            dt = time.perf_counter() - t1
            http_s += dt
            server_s += (result.server_ms or 0.0) / 1000
            self.seq += 1
            usage = (result.response or {}).get("usage") or {}
            self.log.write(
                {
                    "type": "exchange",
                    "seq": self.seq,
                    **meta,
                    "try": attempt + 1,
                    "request_hash": digest,
                    "request": body,
                    "result": asdict(result),
                    "latency_s": round(dt, 4),
                    "usage": {k: usage.get(k) for k in ("prompt_tokens", "completion_tokens")},
                }
            )
            if result.status == 200:
                return Call(result.response or {}, time.perf_counter() - t0, http_s, server_s, attempt + 1)
            retryable = result.status in RETRY_STATUS or result.status in (TIMEOUT, UNREACHABLE)
            if not retryable or attempt == cfg.max_retries:
                raise self._error(result, attempt + 1)
            delay = cfg.backoff_s * 2**attempt
            if result.retry_after is not None:
                if result.retry_after > cfg.max_retry_after_s:
                    raise LLMUnavailable(
                        f"{cfg.base_url} is rate limiting ({result.status}) and asks to retry after "
                        f"{result.retry_after:g} s (more than {cfg.max_retry_after_s:g} s)"
                    )
                delay = max(delay, result.retry_after)
            self.sleep(delay)
        raise AssertionError("unreachable")

    def _error(self, r: Result, tries: int) -> LLMError:
        cfg = self.cfg
        msg = redact(r.error, cfg.api_key)
        where = f"{cfg.base_url} (model '{cfg.model}')"
        if r.status == TIMEOUT:
            return LLMUnavailable(f"{where} gave no reply within {cfg.timeout_s:g} s ({tries} tries)")
        if r.status == UNREACHABLE:
            return LLMUnavailable(f"the LLM endpoint is unreachable after {tries} tries: {msg}")
        if r.status == 404:
            return LLMUnavailable(f"{where} answered 404: wrong model name or base URL? ({msg})")
        if r.status in (401, 403):
            return LLMUnavailable(f"{where} refused the API key (OPENAI_API_KEY) with {r.status}: {msg}")
        if r.status in (400, 422):
            return ModeRejected(f"{where} rejected the request ({r.status}): {msg}")
        return LLMUnavailable(f"{where} kept failing ({r.status}) after {tries} tries: {msg}")
