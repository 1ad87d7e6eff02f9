"""``tandem experiment lora-vs-full --smoke`` end to end on the CPU: a real kill midway, then the same
command finishes without retraining what had finished, and writes a report with every section."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from typer.testing import CliRunner

from agent.cli.main import app
from eval.experiments import report
from eval.experiments.config import load_config
from eval.experiments.lora_vs_full import STAGES, Paths
from eval.experiments.report import SECTIONS
from eval.metrics import wilson
from eval.runner import Results


def _cmd(out) -> list[str]:
    return [
        sys.executable,
        "-m",
        "agent.cli.main",
        "experiment",
        "lora-vs-full",
        "--smoke",
        "--out",
        str(out),
        "--no-progress",
    ]


def test_smoke_experiment_killed_midway_resumes_and_reports(tmp_path):
    out = tmp_path / "exp"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(_cmd(out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if line.strip().startswith("cell ") and line.strip().endswith(": trained"):
            proc.kill()  # the first fine-tuning cell is finished, the next one is training
            break
    proc.wait(timeout=60)
    assert proc.returncode != 0, "".join(seen[-40:])
    finished = sorted(out.glob("cells/*/summary.json"))
    assert len(finished) == 1 and not (out / "report").exists()
    kept = [f.parent / "model.safetensors" for f in finished] + [out / "pretrain" / "model.safetensors"]
    stamps = {p: p.stat().st_mtime_ns for p in kept}

    r = subprocess.run(_cmd(out), capture_output=True, text=True, env=env, timeout=1800)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "pretrain: reused" in r.stdout
    assert "1 of 3 cells already trained: reused" in r.stdout
    for path, stamp in stamps.items():
        assert path.stat().st_mtime_ns == stamp, f"{path} was trained again"

    cfg = load_config(smoke=True)
    timings = json.loads((out / "timings.json").read_text())
    assert set(timings) == set(STAGES)
    assert cfg.eval.overlap and timings["finetune"]["overlapped"] and timings["eval"]["overlapped"]
    diag = json.loads((out / "diagnostics.json").read_text())
    seeds = cfg.eval.seeds.count
    for cell in cfg.cells():
        g = diag["groups"][cell.id]
        assert g["success"]["n"] == seeds  # every held-out seed was evaluated (errors count as failures)
        assert g["prompt"]["n"] == cfg.prompt.seeds * len(cfg.prompt.tasks)
        assert g["curve"] and all(c["val_loss"] is not None for c in g["curve"])
        assert sum(g["misses"].values()) == seeds - g["success"]["k"]  # every failure says why
    rows = Results.open_existing(out / "eval").rows()
    policy_rows = [r for r in rows if r["suite"] != "expert"]
    # one attempt per episode: a failed policy call ends it (no retry, no replan)
    assert any(r["metrics"]["failed_calls"] for r in policy_rows)
    assert all(r["metrics"]["retries"] == 0 and r["metrics"]["replans"] == 0 for r in policy_rows)
    expert = diag["groups"]["expert"]
    assert expert["trajectories"] == seeds and expert["memorization"]["median_demo"] > 0
    md = (out / "report" / "report.md").read_text()
    assert "finetune (overlapped)" in md and "eval (overlapped)" in md  # counted once in the total
    for section in SECTIONS:
        assert f"## {section}" in md
    for cell in cfg.cells():
        assert f"**{cell.id}**" in md  # a verdict per cell
    page = (out / "report" / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 4 and page.count('src="') == 4  # self-contained

    # The report is a function of the experiment's JSON files alone (what comes back from a GPU machine
    # without its datasets and rollouts), also when a cell never succeeds on many seeds (the default
    # H200 run's report died there on a Wilson bound a rounding error off 0).
    shutil.rmtree(out / "eval")
    shutil.rmtree(out / "data")
    shutil.rmtree(out / "report")
    for g in diag["groups"].values():
        lo, hi = wilson(0, 50)
        g["success"] = {**g["success"], "k": 0, "n": 50, "rate": 0.0, "lo": lo, "hi": hi}
    (out / "diagnostics.json").write_text(json.dumps(diag))
    report.write(cfg, Paths(out))
    page = (out / "report" / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 4


def test_experiment_cli_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmethods: {}\n")
    runner = CliRunner()
    r = runner.invoke(app, ["experiment", "lora-vs-full", "--config", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and str(bad) in r.output and "methods" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["experiment", "lora-vs-full", "--smoke", "--stop-after", "lunch"])
    assert r.exit_code == 2 and "--stop-after" in r.output
