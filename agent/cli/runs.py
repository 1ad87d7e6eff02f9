"""``tandem runs``: list run records; ``tandem runs show RUN_ID`` replays one as text."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent.cli.errors import user_errors
from agent.records import read_events, runs_root

app = typer.Typer(help="List and replay run records (runs/RUN_ID/).", invoke_without_command=True)
console = Console()


@app.callback()
def list_runs(ctx: typer.Context, limit: Annotated[int, typer.Option(help="show the newest N")] = 20) -> None:
    """List run records, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    root = runs_root()
    dirs = sorted((d for d in root.glob("*") if d.is_dir()), key=lambda d: d.stat().st_mtime, reverse=True)[
        :limit
    ]
    t = Table("run", "status", "goal", "sim s", "wall s", title=f"runs in {root}")
    for d in dirs:
        summary = d / "summary.json"
        s = json.loads(summary.read_text()) if summary.exists() else {}
        t.add_row(
            d.name,
            s.get("status", "[yellow]unfinished[/]"),
            str(s.get("goal", s.get("skill", ""))),
            str(s.get("sim_time_s", "")),
            str(s.get("wall_time_s", "")),
        )
    console.print(t)


@app.command("show")
def show(run_id: Annotated[str, typer.Argument(help="a run id from `tandem runs`")]) -> None:
    """Replay a run's event log as text: plans, dispatches, outcomes, decisions, summary."""
    with user_errors(FileNotFoundError):
        path = runs_root() / run_id
        if not (path / "events.jsonl").exists():
            raise FileNotFoundError(f"no run record '{run_id}' under {runs_root()}")
        events = read_events(path)
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
        elif kind in ("reply", "invalid_plan", "resume", "understood"):
            detail = {k: v for k, v in e.items() if k not in ("kind", "wall_time")}
            console.print(f"          [yellow]{kind}[/] {detail}")
        elif kind == "summary":
            console.print(
                f"[bold]summary:[/] {e['status']}, retries {e['retries']}, replans {e['replans']}, "
                f"sim {e['sim_time_s']} s, wall {e['wall_time_s']} s"
            )
