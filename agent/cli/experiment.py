"""``tandem experiment``: whole studies as one resumable command.

tandem experiment lora-vs-full [--config FILE] [--out DIR] [--smoke]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agent.cli.errors import user_errors

console = Console()
app = typer.Typer(
    help="Experiments: collect, train, evaluate, diagnose and report in one command.", no_args_is_help=True
)


@app.command("lora-vs-full")
def lora_vs_full(
    config: Annotated[
        Path | None,
        typer.Option("--config", help="experiment YAML (default: eval/experiments/lora_vs_full.yaml)"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="output folder (default experiments/NAME); rerun the same to resume"),
    ] = None,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="the tiny CPU config (eval/experiments/lora_vs_full_smoke.yaml)")
    ] = False,
    stop_after: Annotated[
        str | None,
        typer.Option(
            "--stop-after", help="end after this stage: collect, pretrain, finetune, eval, diagnostics"
        ),
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="show progress bars")] = True,
) -> None:
    """LoRA versus full fine-tuning on few demonstrations (the reference story's experiment): pretrain on
    the multi-task set, fine-tune on the held-out task with every method and demo count, evaluate every
    policy closed loop on the same held-out seeds, and write a report with intervals and diagnostics.
    Killed midway, the same command continues: finished datasets, checkpoints and episodes are reused."""
    from eval.experiments.config import ConfigError, load_config
    from eval.experiments.lora_vs_full import STAGES, ExperimentError, run

    if config is not None and smoke:
        raise typer.BadParameter("give --config or --smoke, not both")
    if stop_after is not None and stop_after not in STAGES:
        raise typer.BadParameter(f"--stop-after: one of {', '.join(STAGES)}, got '{stop_after}'")
    with user_errors(ConfigError, ExperimentError):
        cfg = load_config(config, smoke=smoke)
        out = out or Path("experiments") / cfg.name
        try:
            md = run(cfg, out, console=console, progress=progress, stop_after=stop_after)
        except KeyboardInterrupt:
            console.print(
                f"[yellow]interrupted[/]: what finished is in {out}; run the same command to resume"
            )
            raise typer.Exit(130) from None
    console.print(f"report: {md}" if md.exists() else f"stopped after {stop_after}; results in {out}")
