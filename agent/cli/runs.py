"""``tandem runs``: list run records; ``tandem runs show RUN_ID`` replays one as text."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.cli.errors import user_errors
from agent.records import find_run, is_run, read_events, read_summary, run_state, runs_root

app = typer.Typer(help="List and replay run records (runs/RUN_ID/).", invoke_without_command=True)
console = Console()


@app.callback()
def list_runs(ctx: typer.Context, limit: Annotated[int, typer.Option(help="show the newest N")] = 20) -> None:
    """List run records, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    root = runs_root()
    runs = [d for d in root.glob("*") if is_run(d)]
    dirs = sorted(runs, key=lambda d: d.stat().st_mtime, reverse=True)[:limit]
    states = {d: run_state(d) for d in dirs}
    t = Table(title=f"runs in {root}", box=box.SIMPLE_HEAD)
    # Ids and statuses are never cut (`show` and `--resume` take an id or a unique prefix of it); the
    # goal gives way on a narrow terminal.
    id_width = max([len(d.name) for d in dirs] + [3])
    status_width = max([len(st) for st in states.values()] + [6])
    t.add_column("run", no_wrap=True, min_width=id_width)
    t.add_column("status", no_wrap=True, min_width=status_width)
    # What is left of the line after the other columns and their padding (3 per column).
    goal_width = max(10, console.width - id_width - status_width - 2 * 6 - 5 * 3)
    t.add_column("goal", overflow="ellipsis", no_wrap=True, max_width=goal_width)
    t.add_column("sim s", justify="right", no_wrap=True, min_width=6)
    t.add_column("wall s", justify="right", no_wrap=True, min_width=6)
    for d in dirs:
        s = read_summary(d) or {}
        state = states[d]
        color = {"success": "green", "unfinished": "yellow", "aborted at start-up": "yellow"}.get(state, "")
        goal = s.get("goal", s.get("skill")) or _meta(d).get("goal", "")
        t.add_row(
            d.name,
            f"[{color}]{state}[/]" if color else state,
            str(goal),
            _seconds(s.get("sim_time_s")),
            _seconds(s.get("wall_time_s")),
        )
    console.print(t)
    if len(runs) > limit:
        console.print(f"[dim]{len(runs) - limit} older runs not shown (--limit)[/]")


def _seconds(value) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else ""


def _meta(run_dir) -> dict:
    path = run_dir / "meta.json"
    return json.loads(path.read_text()) if path.exists() else {}


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="a run id from `tandem runs`, or a unique prefix of one")],
) -> None:
    """Replay a run's event log as text: plans, dispatches, outcomes, decisions, faults, summary."""
    with user_errors(FileNotFoundError, ValueError):
        path = runs_root() / find_run(run_id)
        events = read_events(path)
    console.print(f"[bold]run {path.name}[/] ({run_state(path)})")
    meta = _meta(path)
    if meta.get("goal"):
        console.print(f"re-run: {_rerun_command(meta)}", markup=False, highlight=False)
    for e in events:
        kind = e["kind"]
        if kind == "start":
            console.print(
                f"[bold]goal:[/] {e['goal']}  (scene {e['scene']}, seed {e['seed']}, faults {e['faults']})"
            )
        elif kind == "plan":
            console.print(f"[bold cyan]plan v{e['version']}[/] {e['plan'].get('reason', '')}")
            for s in e["plan"]["steps"]:
                console.print(
                    f"   {s['id']}: {s['skill']}({', '.join(f'{k}={v}' for k, v in s['args'].items())})"
                    + (f" after {s['after']}" if s["after"] else "")
                )
        elif kind == "dispatch":
            console.print(f"{e['sim_time_s']:8.2f}s start   {e['call_id']} {e['skill']} {e['args']}")
        elif kind == "outcome":
            color = "green" if e["status"] == "success" else "red"
            status = f"[{color}]{e['status']:7}[/]"
            console.print(f"{e['sim_time_s']:8.2f}s {status} {e['call_id']} {e['reason']} {e['evidence']}")
        elif kind == "decision":
            console.print(f"          [cyan]decision[/] {e['decision']} {e.get('message', '')}")
        elif kind in ("fault_applied", "fault_not_applicable"):
            text = e.get("detail") or e.get("reason", "")
            console.print(f"          [magenta]{kind}[/] {e['fault']}: {text}", highlight=False)
        elif kind == "understood":
            console.print(f"          [yellow]understood[/] {escape(str(e['summary']))}", highlight=False)
        elif kind in ("reply", "invalid_plan", "resume", "planner_fallback"):
            detail = {k: v for k, v in e.items() if k not in ("kind", "wall_time")}
            console.print(f"          [yellow]{kind}[/] {detail}")
        elif kind == "summary":
            console.print(
                f"[bold]summary:[/] {e['status']}, retries {e['retries']}, replans {e['replans']}, "
                f"sim {e['sim_time_s']} s, wall {e['wall_time_s']} s"
            )


def _rerun_command(meta: dict) -> str:
    """The command that repeats a run from its recorded request (seed and faults included)."""
    import shlex

    parts = ["tandem", "run", meta["goal"], "--seed", str(meta.get("seed"))]
    if meta.get("scene", "g1_lab") != "g1_lab":
        parts += ["--scene", meta["scene"]]
    for fault in meta.get("faults", []):
        parts += ["--inject", fault]
    if meta.get("planner", "offline") != "offline":
        parts += ["--planner", meta["planner"]]
    return shlex.join(parts)
