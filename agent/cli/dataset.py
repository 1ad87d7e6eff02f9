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
        f"[bold]{dataset}[/]  {s['codebase_version']}  {s['robot_type']}  {s['episodes']} episodes, "
        f"{s['frames']} frames at {s['fps']} fps ({s['duration_s']:.0f} s), "
        f"success {s['successes']}/{s['episodes']}"
    )
    console.print(f"  videos: {', '.join(s['videos'])} ({s['image_size']})")
    for part, groups in s["modality"].items():
        spans = ", ".join(f"{g} {a}:{b}" for g, (a, b) in groups.items())
        console.print(f"  {part} groups (modality.json): {spans or 'none'}", highlight=False)
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


def _parse_indices(value: str | None) -> list[int] | None:
    """``0,3,5`` or ``0-13`` (inclusive) or a mix."""
    if value is None:
        return None
    out: list[int] = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        lo, dash, hi = part.partition("-")
        try:
            out.extend(range(int(lo), int(hi) + 1) if dash and lo else [int(part)])
        except ValueError:
            raise ValueError(f"'{part}' is not an episode index, a list (0,1,2) or a range (0-13)") from None
    return out


@app.command("view")
def view(
    dataset: DatasetArg,
    episode: Annotated[int, typer.Option("--episode", "-e", help="episode index")] = 0,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="MP4 to write")] = None,
) -> None:
    """One episode to MP4: its cameras, the instruction, and state/action plots with a time cursor."""
    from eval.datasets.reader import Dataset
    from eval.datasets.view import render_episode
    from eval.datasets.writer import DatasetError

    with user_errors(DatasetError):
        ds = Dataset.open(dataset)
        ds.episode(episode)
        path = render_episode(ds, episode, out or Path(f"episode_{episode:06d}.mp4"))
    console.print(f"wrote {path}")


@app.command("split")
def split(
    dataset: DatasetArg,
    train: Annotated[Path, typer.Option("--train", help="new dataset: every episode not held out")],
    held_out: Annotated[Path, typer.Option("--held-out", help="new dataset: the selected episodes")],
    tasks: Annotated[
        str | None,
        typer.Option("--tasks", help="hold out these tasks (comma-separated names or instructions)"),
    ] = None,
    episodes: Annotated[
        str | None, typer.Option("--episodes", help="hold out these episodes: 0-13 or 0,4,7")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="hold out only the first N selected (the rest go to train)")
    ] = None,
) -> None:
    """Train / held-out sets by task or by episode, e.g. the 14-episode fine-tuning set:
    `tandem dataset split all --tasks block_to_zone --limit 14 --train pretrain --held-out finetune`."""
    from eval.datasets.edit import split as run_split
    from eval.datasets.writer import DatasetError

    with user_errors(DatasetError, ValueError):
        if tasks is None and episodes is None:
            raise ValueError("choose what to hold out: --tasks and/or --episodes")
        names = [t.strip() for t in tasks.split(",")] if tasks else None
        n_train, n_test = run_split(dataset, train, held_out, names, _parse_indices(episodes), limit)
    console.print(f"{train}: {n_train} episodes, {held_out}: {n_test} episodes")


@app.command("merge")
def merge(
    datasets: Annotated[list[Path], typer.Argument(help="datasets with the same features and fps")],
    out: Annotated[Path, typer.Option("--out", "-o", help="new dataset folder")],
) -> None:
    """Join datasets with the same features into a new one (episodes re-indexed, in order)."""
    from eval.datasets.edit import merge as run_merge
    from eval.datasets.writer import DatasetError

    with user_errors(DatasetError):
        n = run_merge(datasets, out)
    console.print(f"{out}: {n} episodes")


@app.command("replay")
def replay(
    dataset: DatasetArg,
    episode: Annotated[
        str | None, typer.Option("--episode", "-e", help="episodes to replay: 3, 0-9 or 0,4 (default: all)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per episode")] = False,
) -> None:
    """Play recorded actions open loop (held per frame, at the recorded rate) in a fresh env with the recorded
    seed and perturbations; the task's predicates judge it. Exit 1 if a recorded success does not repeat."""
    from dataclasses import asdict

    from eval.datasets.reader import Dataset
    from eval.datasets.replay import replay as run_replay
    from eval.datasets.writer import DatasetError
    from skills.tasks import TaskError

    with user_errors(DatasetError, ValueError, TaskError):
        ds = Dataset.open(dataset)
        indices = _parse_indices(episode) or list(range(len(ds.episodes)))
        for i in indices:
            ds.episode(i)
        results = []
        t = Table(
            "episode", "task", "seed", "recorded", "replayed", "max state error", "detail", title="replay"
        )
        for i in indices:
            r = run_replay(ds, i)
            results.append(r)
            if as_json:
                print(json.dumps(asdict(r)), flush=True)
            else:
                t.add_row(
                    str(i), r.task, str(r.seed), _ok(r.recorded_success), _ok(r.success),
                    f"{r.max_state_error:.3f} rad", r.detail,
                )  # fmt: skip
    if not as_json:
        console.print(t)
        again = sum(r.success for r in results if r.recorded_success)
        console.print(f"{again}/{sum(r.recorded_success for r in results)} recorded successes re-succeeded")
    if any(r.recorded_success and not r.success for r in results):
        raise typer.Exit(1)


def _ok(v: bool) -> str:
    return "[green]success[/]" if v else "[red]failure[/]"
