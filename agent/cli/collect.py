"""``tandem collect TASK... --episodes N --out DATASET``: record the expert as a LeRobot v2.1 dataset.

docs/datasets.md describes the tasks, the variation, the format and the figures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent.cli.errors import user_errors

console = Console()


def _list_tasks(as_json: bool) -> None:
    from skills.tasks import all_tasks

    tasks = all_tasks()
    if as_json:
        rows = [
            {
                "name": t.name,
                "instruction": t.instruction,
                "paraphrases": t.paraphrases,
                "scene": t.scene,
                "expert": t.expert,
                "calls": [c.model_dump() for c in t.calls],
                "success": [s.model_dump() for s in t.success],
            }
            for t in tasks
        ]
        print(json.dumps(rows, indent=2))
        return
    table = Table("task", "scene", "instruction", "expert", "success", title="tasks (skills/tasks/*.yaml)")
    for t in tasks:
        calls = " -> ".join(f"{c.skill}({', '.join(f'{v}' for v in c.args.values())})" for c in t.calls)
        expert = calls or f"scripted {t.expert}"
        table.add_row(t.name, t.scene, t.instruction, expert, ", ".join(s.predicate for s in t.success))
    console.print(table)


def collect(
    tasks: Annotated[
        list[str] | None,
        typer.Argument(help="task names (see --list) or task YAML files", show_default=False),
    ] = None,
    scene: Annotated[
        str | None,
        typer.Option("--scene", help="collect every shipped task of this scene (e.g. so100_block)"),
    ] = None,
    episodes: Annotated[int, typer.Option("--episodes", "-n", help="episodes to keep per task", min=1)] = 10,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="dataset folder (created, or appended to)")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", help="worker processes", min=1)] = 1,
    ray: Annotated[
        str | None, typer.Option("--ray", help="run on Ray: auto (a running cluster), local, or an address")
    ] = None,
    image_size: Annotated[
        int, typer.Option("--image-size", help="square camera frames, pixels", min=16)
    ] = 224,
    fps: Annotated[
        int, typer.Option("--fps", help="recording rate (the policy rate), frames/s", min=1, max=50)
    ] = 20,
    seed: Annotated[int, typer.Option("--seed", help="first seed; each task runs seed, seed+1, ...")] = 0,
    cameras: Annotated[
        str | None,
        typer.Option(
            "--cameras",
            help="comma-separated robot cameras to record (default: all the robot's: ego_view,left_wrist,"
            "right_wrist on the G1; front,wrist on the SO-100)",
            show_default=False,
        ),
    ] = None,
    keep_failures: Annotated[
        bool, typer.Option("--keep-failures", help="keep failed episodes (marked success: false)")
    ] = False,
    no_variation: Annotated[
        bool, typer.Option("--no-variation", help="the nominal expert: no perturbations (poses still vary)")
    ] = False,
    paraphrase: Annotated[
        bool, typer.Option("--paraphrase", help="draw each episode's instruction from the task's paraphrases")
    ] = False,
    locomotion: Annotated[
        str | None,
        typer.Option(
            "--locomotion",
            help="what moves the G1 while it records: holonomic or walker[:PATH] (default: each task's "
            "own `locomotion`, holonomic for the shipped tasks)",
            show_default=False,
        ),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="list the tasks and exit")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="with --list: JSON; else a JSON summary")] = False,
) -> None:
    """Record expert demonstrations: `tandem collect block_to_zone --episodes 14 --out data/block`,
    `tandem collect --scene so100_block --episodes 20 --out data/so100`.

    Runs each task's scripted skills through the normal runtime (monitors judge every call), or its
    scripted whole-task expert (SO-100), samples the robot at --fps and writes LeRobot v2.1 (parquet +
    H.264 MP4) with GR00T's meta/modality.json in the robot's layout (G1 43-D, SO-100 single_arm+gripper).
    Rerunning the same command on an existing dataset continues it. Exit 0 when every task got its
    episodes, 1 when some could not (too many failures), 2 on bad input.
    """
    from eval.datasets.collect import CollectOptions, dataset_layout
    from eval.datasets.collect import collect as run_collect
    from eval.datasets.writer import DatasetError
    from skills.tasks import TaskError, all_tasks, load_task

    if list_:
        with user_errors(TaskError):
            _list_tasks(as_json)
        return
    with user_errors(TaskError, ValueError):
        tasks = list(tasks or [])
        if scene is not None:
            of_scene = [t.name for t in all_tasks() if t.scene == scene]
            if not of_scene:
                scenes = ", ".join(sorted({t.scene for t in all_tasks()}))
                raise ValueError(f"--scene: no shipped task uses scene '{scene}'; scenes: {scenes}")
            tasks += [t for t in of_scene if t not in tasks]
        if not tasks:
            raise ValueError("name at least one task or --scene (tandem collect --list shows them)")
        if out is None:
            raise ValueError("--out DATASET is required")
        if image_size % 2:
            raise ValueError(f"--image-size must be even (H.264 yuv420p), got {image_size}")
        if locomotion is not None:
            from envs.locomotion import parse_locomotion

            try:
                parse_locomotion(locomotion)
            except ValueError as e:
                raise ValueError(f"--locomotion: {e}") from None
        specs = [load_task(t, locomotion) for t in tasks]
        scripted = [t.name for t in specs if t.expert is not None]
        if locomotion is not None and scripted:
            raise ValueError(f"--locomotion moves the G1; {', '.join(scripted)} run a scripted arm expert")
        names = [
            spec.name if not t.endswith((".yaml", ".yml")) else t
            for spec, t in zip(specs, tasks, strict=True)
        ]
        layout = dataset_layout(names)
        known = list(layout.cameras)
        cams = known if cameras is None else [c.strip() for c in cameras.split(",") if c.strip()]
        bad = [c for c in cams if c not in known]
        if bad or not cams:
            raise ValueError(
                f"--cameras: unknown {bad or cameras!r}; {layout.robot_type} cameras: {', '.join(known)}"
            )
    opts = CollectOptions(
        fps=fps,
        image_size=image_size,
        cameras=tuple(cams),
        vary=not no_variation,
        paraphrase=paraphrase,
        keep_failures=keep_failures,
        locomotion=locomotion,
    )
    interactive = sys.stdout.isatty() and not as_json

    def on_event(kind: str, data: dict) -> None:
        if interactive:
            return
        # Plain lines when not on a terminal (logs, tests waiting on progress).
        if kind == "episode":
            kept = f"kept as episode {data['episode_index']}" if data.get("kept") else "dropped"
            print(f"episode {data['task']} seed {data['seed']}: success={data['success']} {kept}", flush=True)
        elif kind == "worker":
            print(f"worker {data['pid']} started", flush=True)
        elif kind == "retry":
            print(f"retry {data['task']} seed {data['seed']}: {data['why']}", flush=True)

    with user_errors(DatasetError, TaskError, RuntimeError):
        summary = run_collect(
            names, episodes, out, opts, seed=seed, workers=workers, ray_address=ray,
            progress=interactive, on_event=on_event,
        )  # fmt: skip
    short = any(t["kept"] < episodes for t in summary.per_task.values())
    if as_json:
        from dataclasses import asdict

        print(json.dumps(asdict(summary)))
    else:
        rate = summary.episodes / max(summary.wall_s / 60, 1e-9)
        console.print(
            f"[bold]{summary.episodes}[/] episodes written ({summary.total_episodes} in {out}), "
            f"success {summary.succeeded}/{summary.attempted}, {rate:.1f} episodes/min"
        )
        for name, t in summary.per_task.items():
            console.print(f"  {name}: {t['kept']} kept, {t['succeeded']}/{t['attempted']} succeeded")
    if short:
        raise typer.Exit(1)
