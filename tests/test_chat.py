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
        # The REPL's behaviour, gliding (a third of the walker's sim time; runs on legs: test_run.py).
        ["-m", "agent.cli.main", "chat", "--seed", "1", "--locomotion", "holonomic"],
        env=env,
        encoding="utf-8",
        timeout=120,
        dimensions=(50, 200),
    )
    child.expect("tandem>")
    yield child, tmp_path
    if child.isalive():
        child.terminate(force=True)


def _ended(child, timeout=600) -> tuple[str, str]:
    """Wait for the line that closes a run in chat; its status and run id."""
    child.expect(rf"run ended: {ANSI}(\w+){ANSI}.*?\(run ([\w-]+),", timeout=timeout)
    return child.match.group(1), child.match.group(2)


def _task(child) -> str:
    """The run id of the task chat just started."""
    child.expect(r"task:.*?\(run ([\w-]+)\)")
    return child.match.group(1)


def _summary(runs, run_id) -> dict:
    return json.loads((runs / run_id / "summary.json").read_text())


def test_task_correction_approval_and_quit(chat):
    child, runs = chat
    # A task runs to success, judged by the simulator (the summary's final world).
    child.sendline("bring the soap to the bench")
    child.expect(r"plan v1")
    status, run_id = _ended(child)
    first = _summary(runs, run_id)
    assert status == "success" and first["success"], first["message"]
    assert first["final_world"]["objects"]["soap_bottle"]["station"] == "bench"

    # With approval on, a plan waits for a yes before the robot moves: the corrections below reach
    # chat while nothing moves, so nothing depends on how fast the machine is.
    child.sendline("/approve on")
    child.expect(r"approval of each plan: on")
    child.sendline("bring the soap to the shelf")
    pending = _task(child)
    child.expect(r"approve this plan\?")
    # A correction turns the waiting plan down and plans the task again with it.
    child.sendline("use the left hand")
    child.expect(r"correction: bring the soap to the shelf use the left hand\r\n")
    assert _ended(child) == ("rejected", pending)
    corrected = _task(child)
    child.expect(r"approve this plan\?")
    waiting = _summary(runs, corrected)
    assert waiting["status"] == "awaiting_approval" and waiting["sim_time_s"] == first["sim_time_s"]
    assert waiting["goal"] == "bring the soap to the shelf use the left hand"
    assert "hand=left" in waiting["understood_as"]  # the correction reached the planner
    # The same correction again is composed once, not appended twice.
    child.sendline("use the left hand")
    child.expect(r"correction: bring the soap to the shelf use the left hand\r\n")
    assert _ended(child) == ("rejected", corrected)
    last = _task(child)
    child.expect(r"approve this plan\?")
    # Approved, the plan runs to its end and the robot has moved.
    child.sendline("y")
    child.expect(r"approved")
    status, run_id = _ended(child)
    approved = _summary(runs, last)
    assert run_id == last and status in ("success", "failed") and approved["status"] == status
    assert approved["sim_time_s"] > waiting["sim_time_s"]

    # "stop" aborts a running plan at the next control tick.
    child.sendline("bring the catalyst to the bench")
    stopped = _task(child)
    child.expect(r"approve this plan\?")
    child.sendline("y")
    child.expect(r"approved")
    child.sendline("stop")
    assert _ended(child) == ("aborted", stopped)
    assert _summary(runs, stopped)["message"] == "stopped by the user"

    child.sendline("/quit")
    child.expect(pexpect.EOF, timeout=30)
