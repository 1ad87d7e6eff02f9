"""The experiment's seams to the rest of Tandem: demonstrations (``tandem collect``), training (the Tandem
VLA trainer), policies in the eval runner (``--manipulation policy:CKPT``) and demonstrations read back as
trajectories. Everything here calls those modules' public functions; nothing is re-implemented.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval.experiments.diagnostics import Trajectory

SUMMARY = "summary.json"


class ExperimentError(ValueError):
    """An output folder that cannot be resumed with this config, or a stage that cannot run."""


STATE = "observation.state"


def write_json(path: Path, data: Any) -> None:
    """Write-then-rename: a file that exists is complete (the done marker of a stage or cell)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=float))
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def claim(path: Path, settings: dict[str, Any]) -> list[str]:
    """Record the settings a results folder is made with (``path``, written if absent); returns the
    top-level fields where the recorded ones differ (empty: the same run, which may resume)."""
    mine = json.loads(json.dumps(settings, default=float))
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        write_json(path, mine)
        return []
    theirs = read_json(path)
    return sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))


# -- demonstrations -----------------------------------------------------------------------------------
def collect(
    tasks: list[str], episodes_per_task: int, seeds_start: int, out: Path, opts, progress: bool = True
) -> dict:
    """Demonstrations of ``tasks`` into the LeRobot dataset ``out`` (``tandem collect``: it resumes by
    itself). ``opts``: the config's ``collect`` section. Only the ego camera is recorded: the VLA reads it."""
    from dataclasses import asdict

    from eval.datasets.collect import CollectOptions
    from eval.datasets.collect import collect as run_collect

    summary = run_collect(
        tasks,
        episodes_per_task,
        Path(out),
        CollectOptions(image_size=opts.image_size, cameras=("ego_view",)),
        seed=seeds_start,
        workers=opts.workers,
        progress=progress,
    )
    missing = {t: c for t, c in summary.per_task.items() if c["kept"] < episodes_per_task}
    if missing:
        raise ExperimentError(
            f"{out}: the expert did not give {episodes_per_task} demonstrations of {missing}"
        )
    return asdict(summary)


def demo_trajectories(dataset: Path, task: str, first: int, joints: slice) -> list[Trajectory]:
    """The first ``first`` successful demonstrations of ``task`` as joint trajectories (``joints`` of the
    43-D state), read through the VLA's dataset reader."""
    import numpy as np
    import pyarrow.parquet as pq

    from skills.policies.vla.dataset import read_episodes, read_info

    info = read_info(dataset)
    out = []
    for ep in read_episodes(dataset, [task])[:first]:
        path = dataset / info.data_path.format(
            episode_chunk=ep.index // info.chunks_size, episode_index=ep.index
        )
        table = pq.read_table(path, columns=[STATE, "timestamp"])
        q = np.asarray(table.column(STATE).to_pylist(), np.float32)[:, joints]
        out.append(Trajectory(np.asarray(table.column("timestamp").to_pylist(), float), q))
    return out


# -- training -----------------------------------------------------------------------------------------
class ValLoss:
    """The training objective on held-out demonstrations with the live weights: fixed batches, fixed flow
    noise (a forked RNG), no augmentation; training's own random streams are left untouched."""

    def __init__(self, trainer, dataset: Path, tasks: list[str], batches: int = 4, size: int = 64) -> None:
        from skills.policies.vla.dataset import DemoDataset
        from skills.policies.vla.train import Batches

        self.trainer = trainer
        data = DemoDataset(dataset, trainer.vcfg, tasks)
        sampler = Batches(data, trainer.policy, trainer.device, seed=12345)
        self.fixed = [sampler.sample(min(size, len(data)), None) for _ in range(batches)]
        self.embodiment = data.embodiment

    def __call__(self) -> float:
        import torch

        model, dev = self.trainer.policy.model, self.trainer.device
        was = model.training
        model.eval()
        devices = [dev] if dev.type == "cuda" else []
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            torch.manual_seed(0)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                loss = sum(float(model(self.embodiment, **b)) for b in self.fixed) / len(self.fixed)
        model.train(was)
        return loss


def train(spec: dict[str, Any], on_step: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Train one policy with the VLA trainer into ``spec['out']`` and write its ``summary.json`` last: a
    folder with a summary holds a finished checkpoint. A folder without one (a killed run) is cleared and
    trained again. Returns the summary: the trainer's own (parameters, wall time, GPU memory) plus the
    training and validation loss curves."""
    from skills.policies.vla.train import TrainConfig, Trainer

    out = Path(spec["out"])
    if (out / SUMMARY).exists():
        return read_json(out / SUMMARY)
    if out.exists():
        shutil.rmtree(out)
    steps = int(spec["steps"])
    cfg = TrainConfig(
        dataset=Path(spec["dataset"]),
        out=out,
        method=spec["method"],
        init=Path(spec["init"]) if spec.get("init") else None,
        tasks=list(spec["tasks"]),
        max_episodes=spec.get("max_episodes"),
        steps=steps,
        batch=int(spec["batch"]),
        lr=float(spec["lr"]),
        lora_rank=int(spec.get("lora_rank", 16)),
        lora_alpha=float(spec.get("lora_alpha", 32)),
        device=spec.get("device", "auto"),
        seed=int(spec.get("seed", 0)),
        model=dict(spec.get("model") or {}),
        instruction_vectors=Path(spec["instruction_vectors"]) if spec.get("instruction_vectors") else None,
        log_every=max(1, steps // 20),
        save_every=steps,  # only the final policy: a killed cell is trained again from its start
    )
    log: list[str] = []
    trainer = Trainer(cfg, log=log.append)
    trainer.load_data()
    val = (
        ValLoss(trainer, Path(spec["val_dataset"]), list(spec["tasks"])) if spec.get("val_dataset") else None
    )
    curve: list[dict[str, float]] = []

    def progress(step: int, row: dict[str, float]) -> None:
        curve.append({"step": step, "loss": row["loss"], **({"val_loss": val()} if val else {})})
        if on_step is not None:
            on_step(step, steps)

    summary = trainer.run(progress)
    summary.update(curve=curve, log=log, spec={k: str(v) for k, v in spec.items()})
    summary.setdefault("gpu_memory_gb", None)
    # The final policy is in OUT itself; the trainer's resume copy is never used (a killed cell restarts).
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    add_instructions(out, spec.get("say") or [], [Path(p) for p in spec.get("vector_sources") or []])
    write_json(out / SUMMARY, summary)
    return summary


def add_instructions(checkpoint: Path, texts: list[str], sources: list[Path]) -> None:
    """Put the vectors of sentences the eval will tell a policy (the prompt probe) into its checkpoint,
    taken from ``sources`` (vector files or other checkpoints' banks) so that no text encoder is needed
    where it runs (the GPU machine has none); a sentence no source has is encoded here."""
    from skills.policies.vla.language import InstructionBank
    from skills.policies.vla.policy import INSTRUCTIONS_FILE

    bank = InstructionBank.load(checkpoint / INSTRUCTIONS_FILE)
    missing = [t for t in texts if t not in bank.vectors]
    if not missing:
        return
    for source in sources:
        known = InstructionBank.load(source if source.is_file() else source / INSTRUCTIONS_FILE)
        bank.vectors.update({t: known.vectors[t] for t in missing if t in known.vectors})
    bank.get(missing)
    bank.save(checkpoint / INSTRUCTIONS_FILE)


def train_in_subprocess(spec: dict[str, Any]) -> dict[str, Any]:
    """``train`` for a process pool (several small cells share one GPU); one compute thread per cell."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // max(1, int(spec.get("workers", 1)))))
    return train(spec)


# -- policies in the eval runner ----------------------------------------------------------------------
def manipulation(checkpoint: Path, device: str = "cpu") -> str:
    """The manipulation backend of an eval episode driven by a trained policy."""
    return f"policy:{Path(checkpoint).resolve()}?device={device}"
