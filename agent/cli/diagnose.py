"""``tandem diagnose``: does one policy follow the instruction and the object?

tandem diagnose POLICY [--scene SCENE] [--task TASK] [--probe TASK] [--seeds N] [--workers W] [--out DIR]
                [--json]
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent.cli.errors import user_errors
from eval.experiments.diagnose import DEFAULT_SEEDS, SEEDS_START

console = Console()


def diagnose(
    policy: Annotated[
        str,
        typer.Argument(
            help="the policy: a checkpoint folder, or a --manipulation spec (policy:CKPT[?device=cuda], "
            "groot://HOST:PORT[?version=n1.6])",
            show_default=False,
            metavar="POLICY",
        ),
    ],
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            help="reference task: shipped name (skills/tasks) or task YAML (default: block_to_zone; "
            "so100_block on the SO-100)",
            show_default=False,
        ),
    ] = None,
    probe: Annotated[
        str | None,
        typer.Option(
            "--probe",
            help="task whose instruction the policy is told instead, same scene, seeds and plan "
            "(default: block_to_tray; so100_lift on the SO-100)",
            show_default=False,
        ),
    ] = None,
    scene: Annotated[
        str | None,
        typer.Option("--scene", help="scene to run in (default: the reference task's); so100_block: the arm"),
    ] = None,
    seeds: Annotated[
        int, typer.Option("--seeds", min=3, help="scene seeds (object positions), each run twice")
    ] = DEFAULT_SEEDS,
    seed_start: Annotated[
        int, typer.Option("--seed-start", min=0, help="first scene seed (far from demonstration seeds)")
    ] = SEEDS_START,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="parallel worker processes")] = 1,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="results folder (default diagnose/NAME); the same command resumes it"),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the numbers and verdict as JSON")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="show the progress bar")] = True,
) -> None:
    """Does a policy follow the instruction and the object? A verdict with the numbers behind it.

    Runs the policy on the reference task over N scene seeds, then on the same seeds told the probe task's
    instruction, and says whether it ignores the instruction, ignores the object position, or is ok (the
    prompt- and start-sensitivity diagnostics of `tandem experiment lora-vs-full`). Exit 0: ok; 1: a
    finding (or inconclusive); 2: bad input."""
    from eval.experiments import diagnose as dx
    from skills.policies.manipulation import resolve

    with user_errors(dx.DiagnoseError, ValueError, FileNotFoundError):
        spec = dx.policy_spec(policy)
        default_task, default_probe = dx.default_tasks(scene, task)
        setup = dx.Setup(
            policy=spec,
            task=task or default_task,
            probe=probe or default_probe,
            scene=scene,
            seeds=tuple(range(seed_start, seed_start + seeds)),
        )
        _, _, where = dx.load_tasks(setup)  # a bad task, probe or scene fails before the policy loads
        # A bad checkpoint, one for another robot, or an unreachable server fails here, not in every worker.
        dx.check_policy(resolve(spec), where)
        out = out or Path("diagnose") / _name(spec)
        try:
            measured, res = dx.run(setup, out, workers=workers, progress=progress and not json_out)
        except KeyboardInterrupt:
            console.print(f"[yellow]interrupted[/]: finished episodes are in {out}; rerun to resume")
            raise typer.Exit(130) from None
    v = dx.verdict(measured)
    if json_out:
        print(json.dumps({**dx.as_json(setup, measured, v), "out": str(out)}, indent=2))
    else:
        _print(setup, measured, v, out, res)
    raise typer.Exit(0 if v.labels == [dx.OK] else 1)


def _name(spec: str) -> str:
    """A folder name for a policy: the checkpoint folder's name, or the server's host and port."""
    body = spec.split("?", 1)[0]
    if body.startswith("policy:"):
        return Path(body.removeprefix("policy:")).resolve().name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", body.split("://", 1)[-1]).strip("_")


def _print(setup, m, v, out: Path, res: dict) -> None:
    from eval.experiments import diagnose as dx

    if res["skipped"]:
        console.print(f"resumed: {res['skipped']} of {res['episodes']} episodes were already in {out}")
    s, seeds = m.success, setup.seeds
    t = Table(title=f"{setup.policy}: {setup.task} vs probe {setup.probe}, seeds {seeds[0]}-{seeds[-1]}")
    t.add_column("number")
    t.add_column("value", justify="right")
    t.add_row("reference task success", f"{s.k}/{s.n} ({s.rate:.0%}, 95% CI {s.lo:.0%}-{s.hi:.0%})")
    for axis, f in sorted(m.start.items()):
        t.add_row(f"start sensitivity {axis}: slope / R²", f"{f.slope:.2f} / {f.r2:.2f}")
    t.add_row("prompt: trajectory distance (rad)", f"{m.prompt_distance:.3f} over {m.prompt_pairs} seeds")
    t.add_row("probe: did the probe's task", f"{m.probe_followed}/{m.probe_n}")
    t.add_row("probe: did the reference task anyway", f"{m.probe_did_reference}/{m.probe_n}")
    t.add_row(
        "rollouts: pairwise distance across seeds (rad)", f"{m.spread.mean:.3f} (min {m.spread.min:.3f})"
    )
    if m.errors:
        t.add_row("episodes that crashed or timed out", f"[red]{m.errors}[/]")
    console.print(t)
    colour = "green" if v.labels == [dx.OK] else "red"
    console.print(f"[bold {colour}]verdict: {', '.join(v.labels)}[/]")
    for f in v.findings:
        console.print(f"  {f.verdict}: {f.because}", highlight=False)
    for n in v.notes:
        console.print(f"  {n}", highlight=False)
    console.print("thresholds:", highlight=False)
    for name, (value, why) in dx.THRESHOLDS.items():
        console.print(f"  {name} = {value}: {why}", highlight=False)
    console.print(f"results: {out} (episodes and run records; tandem eval report {out} --out REPORT_DIR)")
