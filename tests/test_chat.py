"""The chat REPL driven in a pseudo-terminal, as a person would use it."""

from __future__ import annotations

import json
import os
import sys

import pexpect
import pytest

ANSI = r"(?:\x1b\[[0-9;]*m)*"  # rich keeps bold on even with NO_COLOR


@pytest.fixture
def chat(tmp_path):
    env = {
        **os.environ,
        "TANDEM_RUNS_DIR": str(tmp_path),
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "TERM": "xterm",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    child = pexpect.spawn(
        sys.executable,
        ["-m", "agent.cli.main", "chat", "--seed", "1"],
        env=env,
        encoding="utf-8",
        timeout=120,
        dimensions=(50, 200),
    )
    child.expect("tandem>")
    yield child, tmp_path
    if child.isalive():
        child.terminate(force=True)


def _summaries(runs):
    out = []
    for d in sorted(runs.glob("run-*"), key=lambda p: p.stat().st_mtime):
        s = d / "summary.json"
        if s.exists():
            out.append(json.loads(s.read_text()))
    return out


def test_task_correction_approval_and_quit(chat):
    child, runs = chat
    # A task runs to success, judged by the simulator (the summary's final world).
    child.sendline("bring the soap to the bench")
    child.expect(r"plan v1")
    child.expect(rf"success{ANSI}: goal reached", timeout=240)
    first = _summaries(runs)[-1]
    assert first["success"] and first["final_world"]["objects"]["soap_bottle"]["station"] == "bench"

    # A correction mid-plan stops the plan and re-plans the last task with it.
    child.sendline("bring the catalyst to the bench")
    child.expect(r"plan v1")
    child.sendline("use the right hand")
    child.expect(r"correction: bring the catalyst to the bench use the right hand")
    child.expect(rf"aborted{ANSI}: stopped by the user")
    child.expect(r"plan v1")
    child.sendline("stop")
    child.expect(rf"aborted{ANSI}: stopped by the user")
    corrected = _summaries(runs)[-1]
    assert corrected["goal"].endswith("use the right hand")
    assert "hand=right" in corrected["understood_as"]  # the correction reached the planner

    # With approval on, the plan waits for a yes before the robot moves.
    child.sendline("/approve on")
    child.expect(r"approval of each plan: on")
    child.sendline("bring the soap to the shelf")
    child.expect(r"approve this plan\? \(y/n\)", timeout=60)
    sim_before = _summaries(runs)[-1]["sim_time_s"]
    child.sendline("y")
    child.expect(r"approved")
    child.expect(rf"(success|failed){ANSI}: ", timeout=240)
    approved = _summaries(runs)[-1]
    assert approved["goal"] == "bring the soap to the shelf" and approved["sim_time_s"] > sim_before

    child.sendline("/quit")
    child.expect(pexpect.EOF, timeout=30)
