"""LLM planner overhead: ms per call beside the server's time, calls per task, tokens per plan.

Runs the LLM backend against the scripted local server (tests/fakes/openai_server.py) and against a
recorded session (replay, no server). Token counts are the fake server's usage numbers, estimated with
its regex tokenizer (word pieces of <= 4 characters and punctuation marks), not a model's BPE.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOAL = "walk to the shelf and look at the catalyst cup"
LOOK = {
    "reason": "walk to the shelf and look at the catalyst cup",
    "steps": [
        {"id": "go", "skill": "walk_to", "args": {"station": "shelf"}, "after": []},
        {"id": "look", "skill": "look_at", "args": {"object": "catalyst_cup"}, "after": ["go"]},
    ],
}
BAD = {"reason": "", "steps": [{"id": "a", "skill": "look_at", "args": {"object": "beaker"}, "after": []}]}


def _ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.2f}" if xs else "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.bench planner", description=__doc__)
    ap.add_argument("--n", type=int, default=30, help="plans per mode")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes.openai_server import FakeOpenAI, count_tokens, plan

    from envs.lab.env import G1LabEnv
    from planner.llm.backend import LLMBackend
    from planner.llm.config import LLMConfig

    env = G1LabEnv(seed=0)
    world = env.world_state()
    tmp = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    rows = []
    recorded = None
    for mode in ("json_schema", "tools", "json"):
        with FakeOpenAI(default=plan(LOOK)) as server:
            run_dir = tmp / mode
            run_dir.mkdir()
            cfg = LLMConfig(base_url=server.base_url, model="fake-1", mode=mode, api_key="bench")
            b = LLMBackend(cfg, run_dir=run_dir)
            b.understand(GOAL, world)  # warm-up (imports, first connection)
            b.calls.clear()
            t0 = time.perf_counter()
            for _ in range(args.n):
                b.understand(GOAL, world)
            wall = (time.perf_counter() - t0) / args.n
            b.close()
            body = server.bodies[-1]
            messages_tokens = count_tokens("".join(m["content"] for m in body["messages"]))
            rows.append(
                {
                    "mode": mode,
                    "planner_ms": _ms([c["overhead_s"] for c in b.calls]),
                    "client_ms": _ms([c["http_s"] - c["server_s"] for c in b.calls]),
                    "server_ms": _ms([c["server_s"] for c in b.calls]),
                    "wall_ms": f"{wall * 1000:.2f}",
                    "calls": f"{len(b.calls) / args.n:g}",
                    "tok_in": str(b.calls[-1]["prompt_tokens"]),
                    "tok_msgs": str(messages_tokens),
                    "tok_out": str(b.calls[-1]["completion_tokens"]),
                }
            )
            if mode == "json_schema":
                recorded = run_dir
    # One bad reply, then a good one: two calls per task.
    with FakeOpenAI([plan(BAD), plan(LOOK)] * args.n) as server:
        cfg = LLMConfig(base_url=server.base_url, model="fake-1", mode="json_schema", api_key="bench")
        run_dir = tmp / "repair"
        run_dir.mkdir()
        b = LLMBackend(cfg, run_dir=run_dir)
        for _ in range(args.n):
            b.understand(GOAL, world)
        rows.append(
            {
                "mode": "json_schema, 1 repair",
                "planner_ms": _ms([c["overhead_s"] for c in b.calls]),
                "client_ms": _ms([c["http_s"] - c["server_s"] for c in b.calls]),
                "server_ms": _ms([c["server_s"] for c in b.calls]),
                "wall_ms": "-",
                "calls": f"{len(b.calls) / args.n:g}",
                "tok_in": str(b.calls[-1]["prompt_tokens"]),
                "tok_msgs": "-",
                "tok_out": str(b.calls[-1]["completion_tokens"]),
            }
        )
    # Replay of the recorded json_schema session: no server at all.
    cfg = LLMConfig(replay=str(recorded), api_key="")
    b = LLMBackend(cfg, run_dir=tmp / "replay-out" if (tmp / "replay-out").mkdir() is None else None)
    t0 = time.perf_counter()
    for _ in range(args.n + 1):
        b.understand(GOAL, world)
    wall = (time.perf_counter() - t0) / (args.n + 1)
    rows.append(
        {
            "mode": "replay (json_schema)",
            "planner_ms": _ms([c["overhead_s"] for c in b.calls]),
            "client_ms": _ms([c["http_s"] for c in b.calls]),
            "server_ms": "0",
            "wall_ms": f"{wall * 1000:.2f}",
            "calls": f"{len(b.calls) / (args.n + 1):g}",
            "tok_in": str(b.calls[-1]["prompt_tokens"]),
            "tok_msgs": "-",
            "tok_out": str(b.calls[-1]["completion_tokens"]),
        }
    )
    env.close()
    heads = {
        "mode": "mode",
        "planner_ms": "planner ms/call",
        "client_ms": "client+HTTP ms/call",
        "server_ms": "server ms/call",
        "wall_ms": "wall ms/plan",
        "calls": "calls/task",
        "tok_in": "tokens in",
        "tok_msgs": "of which messages",
        "tok_out": "tokens out",
    }
    widths = {k: max(len(h), *(len(r[k]) for r in rows)) for k, h in heads.items()}
    print(f"LLM planner, {args.n} plans per row (medians); tokens: fake server's regex estimate")
    print("  ".join(h.ljust(widths[k]) for k, h in heads.items()))
    for r in rows:
        print("  ".join(r[k].ljust(widths[k]) for k in heads))
    print(
        "planner ms: prompt rendering, schema, parsing, validation and the record, without the HTTP round "
        "trip;\nclient+HTTP ms: the openai client's round trip minus the server's own time (x-server-ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
