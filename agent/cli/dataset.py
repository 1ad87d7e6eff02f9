"""``tandem dataset info|check|view|split|merge|replay``: inspect, validate and edit datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent.cli.errors import user_errors

app = typer.Typer(
    help="Inspect (info, view), validate (check, replay) and edit (split, merge) LeRobot v2.1 datasets "
    "written by `tandem collect`.",
    no_args_is_help=True,
)
console = Console()
DatasetArg = Annotated[Path, typer.Argument(help="dataset folder", show_default=False)]


@app.command("info")
def info(
    dataset: DatasetArg,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Episodes, frames, tasks, success and per-key stats."""
    from eval.datasets.reader import Dataset
    from eval.datasets.summary import summarize
    from eval.datasets.writer import DatasetError

    with user_errors(DatasetError):
        s = summarize(Dataset.open(dataset))
    if as_json:
        print(json.dumps(s, indent=2))
        return
    console.print(
        f"[bold]{dataset}[/]  {s['codebase_version']}  {s['episodes']} episodes, {s['frames']} frames at "
        f"{s['fps']} fps ({s['duration_s']:.0f} s), success {s['successes']}/{s['episodes']}"
    )
    console.print(f"  videos: {', '.join(s['videos'])} ({s['image_size']})")
    t = Table("task_index", "task", "episodes", "success", title="tasks")
    for row in s["tasks"]:
        t.add_row(str(row["task_index"]), row["task"], str(row["episodes"]), str(row["successes"]))
    console.print(t)
    k = Table("key", "shape", "min", "max", "mean", "std", title="per-key stats (over all frames)")
    for key, st in s["stats"].items():
        k.add_row(key, str(st["shape"]), *(f"{st[x]:.3g}" for x in ("min", "max", "mean", "std")))
    console.print(k)


@app.command("check")
def check(
    dataset: DatasetArg,
    no_videos: Annotated[bool, typer.Option("--no-videos", help="skip decoding the MP4 files")] = False,
) -> None:
    """Validate layout, shapes, fps, timestamps, video lengths and modality.json. Exit 1 on problems."""
    from eval.datasets.check import check as run_check

    problems = run_check(dataset, videos=not no_videos)
    if problems:
        for p in problems:
            console.print(f"[red]x[/] {p}", highlight=False)
        console.print(f"[red]{len(problems)} problem(s)[/] in {dataset}")
        raise typer.Exit(1)
    console.print(f"[green]ok[/] {dataset}: LeRobot v2.1 layout, features, videos and modality.json agree")
