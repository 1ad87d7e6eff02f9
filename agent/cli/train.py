"""``tandem train``: train a Tandem VLA on a LeRobot v2.1 dataset, from scratch or from a checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agent.cli.errors import user_errors

console = Console()


def train(
    dataset: Annotated[Path, typer.Option("--dataset", help="LeRobot v2.1 dataset folder (tandem collect)")],
    out: Annotated[Path, typer.Option("--out", help="checkpoint folder to write")],
    method: Annotated[
        str, typer.Option("--method", help="scratch (new model), full, head (action head only) or lora")
    ] = "scratch",
    init: Annotated[
        Path | None, typer.Option("--init", help="checkpoint to fine-tune (full/head/lora)")
    ] = None,
    task: Annotated[
        list[str] | None,
        typer.Option("--task", help="train on this task only: name or instruction (repeatable)"),
    ] = None,
    episodes: Annotated[
        int | None, typer.Option("--episodes", min=1, help="use the first N episodes")
    ] = None,
    val_episodes: Annotated[
        int, typer.Option("--val-episodes", min=0, help="hold out the last N episodes; log validation loss")
    ] = 0,
    steps: Annotated[int, typer.Option("--steps", min=1, help="optimizer steps")] = 2000,
    batch: Annotated[int, typer.Option("--batch", min=1, help="batch size per device")] = 64,
    lr: Annotated[
        float | None, typer.Option("--lr", help="peak learning rate (default 3e-4; 1e-3 for lora)")
    ] = None,
    warmup: Annotated[int | None, typer.Option("--warmup", min=0, help="warmup steps (default 5%)")] = None,
    ema: Annotated[
        float | None, typer.Option("--ema", help="EMA decay of the saved weights, e.g. 0.999")
    ] = None,
    augment: Annotated[
        bool, typer.Option("--augment/--no-augment", help="random shifts + colour jitter")
    ] = True,
    state_dropout: Annotated[
        float,
        typer.Option(
            "--state-dropout", min=0, max=1, help="share of samples trained without the joint state (0-1)"
        ),
    ] = 0.0,
    lora_rank: Annotated[int, typer.Option("--lora-rank", min=1)] = 16,
    lora_alpha: Annotated[int, typer.Option("--lora-alpha", min=1)] = 32,
    lora_targets: Annotated[
        str, typer.Option("--lora-targets", help="attn (DiT attention) or attn+mlp")
    ] = "attn",
    lora_vision: Annotated[
        bool, typer.Option("--lora-vision", help="also adapt the vision-language mixer's attention")
    ] = False,
    model_config: Annotated[
        Path | None, typer.Option("--model-config", help="JSON of model sizes for --method scratch")
    ] = None,
    instruction_vectors: Annotated[
        Path | None,
        typer.Option(
            "--instruction-vectors", help="precomputed instruction vectors (no text encoder needed)"
        ),
    ] = None,
    save_every: Annotated[int, typer.Option("--save-every", min=1, help="checkpoint every K steps")] = 1000,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:1")] = "auto",
    resume: Annotated[bool, typer.Option("--resume", help="continue from OUT's last checkpoint")] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Train a Tandem VLA (vision + language + joints -> 16-step joint-target chunks, flow matching).

    Examples:
      tandem train --dataset data/multitask --method scratch --steps 20000 --out models/vla_base
      tandem train --dataset data/block14 --init models/vla_base --method lora --out models/vla_block

    Multi-GPU: torchrun --nproc_per_node 4 -m agent.cli.main train ... (one process per GPU).
    Logs: OUT/tb (TensorBoard), OUT/train_log.jsonl; checkpoints: OUT/checkpoints/step_N, final in OUT.
    """
    import json

    from pydantic import ValidationError

    from envs.validation import format_validation_error
    from skills.policies.vla.dataset import DatasetError
    from skills.policies.vla.train import TrainConfig

    with user_errors(ValueError, FileNotFoundError, DatasetError):
        model = {}
        if model_config is not None:
            try:
                model = json.loads(model_config.read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise ValueError(f"--model-config {model_config}: {e}") from None
        try:
            cfg = TrainConfig(
                dataset=dataset,
                out=out,
                method=method,  # type: ignore[arg-type]
                init=init,
                tasks=task or [],
                max_episodes=episodes,
                val_episodes=val_episodes,
                steps=steps,
                batch=batch,
                lr=lr,
                warmup=warmup,
                ema=ema,
                augment=augment,
                state_dropout=state_dropout,
                lora_rank=lora_rank,
                lora_alpha=lora_alpha,
                lora_targets=lora_targets,  # type: ignore[arg-type]
                lora_vision=lora_vision,
                save_every=save_every,
                device=device,
                resume=resume,
                seed=seed,
                model=model,
                instruction_vectors=instruction_vectors,
            )
        except ValidationError as e:
            raise ValueError(f"bad training options\n{format_validation_error(e)}") from None
        if (out / "model.safetensors").exists() and not resume:
            raise ValueError(f"{out} already holds a checkpoint: choose another --out, or --resume")
        run(cfg)


def run(cfg) -> dict:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from skills.policies.vla.train import Trainer

    trainer = Trainer(cfg, log=lambda msg: console.print(msg))
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        console=console,
        disable=trainer.rank != 0,
    ) as bar:
        load = bar.add_task("loading episodes", total=None, info="")
        trainer.load_data(progress=lambda n, total: bar.update(load, completed=n, total=total))
        bar.remove_task(load)
        job = bar.add_task(f"training ({cfg.method})", total=cfg.steps, info="")

        def show(step: int, row: dict) -> None:
            info = (
                f"loss {row['loss']:.4f}  lr {row['lr']:.2e}  |g| {row['grad_norm']:.2f}  "
                f"{row['samples_s']:.0f} samples/s"
            )
            bar.update(job, completed=step, info=info)

        summary = trainer.run(progress=show)
    if trainer.rank == 0:
        console.print(
            f"loss {summary['first_loss']:.4f} -> {summary['final_loss']:.4f} in {summary['steps']} steps "
            f"({summary['wall_s']:.0f} s, {summary['samples_s']:.0f} samples/s); policy in {cfg.out}"
        )
    return summary
