"""Training a Tandem VLA: from scratch, or from a checkpoint by full, head-only or LoRA fine-tuning.

One process per GPU under ``torchrun`` (DistributedDataParallel; every rank draws its own batches from
the in-memory dataset); plain ``python`` / ``tandem train`` is the one-process case. Rank 0 logs
(TensorBoard + ``train_log.jsonl``) and writes checkpoints: ``OUT/checkpoints/step_NNNNNN/`` every
``save_every`` steps (each a complete policy folder plus ``trainer_state.pt`` for ``--resume``) and the
final policy in ``OUT/`` itself.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from skills.policies.vla.configuration_vla import VLAConfig
from skills.policies.vla.dataset import DemoDataset
from skills.policies.vla.language import CACHE_FILE, InstructionBank
from skills.policies.vla.modeling_vla import VLAModel, count_parameters
from skills.policies.vla.policy import VLAPolicy, resolve_device
from skills.policies.vla.processor_vla import Normalizer

Method = Literal["full", "lora", "head", "scratch"]
TRAINER_STATE = "trainer_state.pt"
LOG_FILE = "train_log.jsonl"
# LoRA targets: attention projections of the action head's DiT (+ its MLPs); optionally the same in the
# vision-language mixer.
_ATTN = r"(self_attn|cross_attn)\.(to_q|to_k|to_v|to_out)"
_MLP = r"mlp\.(fc1|fc2)"


class TrainConfig(BaseModel):
    """Everything one training run needs; saved as ``OUT/train_config.json``."""

    model_config = ConfigDict(extra="forbid")
    dataset: Path
    out: Path
    method: Method = "scratch"
    init: Path | None = None
    tasks: list[str] = Field(default_factory=list)
    max_episodes: int | None = Field(None, ge=1)
    val_episodes: int = Field(0, ge=0)  # the selection's last N episodes: held out, validation loss logged
    steps: int = Field(2000, ge=1)
    batch: int = Field(64, ge=1)
    lr: float | None = Field(None, gt=0)  # default by method: 3e-4 (scratch, full, head), 1e-3 (lora)
    weight_decay: float = Field(1e-4, ge=0)
    warmup: int | None = Field(None, ge=0)  # default: 5% of steps
    grad_clip: float = Field(1.0, gt=0)
    ema: float | None = Field(None, gt=0, lt=1)  # e.g. 0.999; the saved weights are the average
    augment: bool = True
    # Share of training samples whose joint state is replaced by the dataset mean (zero once normalized):
    # a policy that can read the arm's phase from the joints learns to ignore the image; this makes it look.
    state_dropout: float = Field(0.0, ge=0, le=1)
    lora_rank: int = Field(16, ge=1)
    lora_alpha: int = Field(32, gt=0)
    lora_targets: Literal["attn", "attn+mlp"] = "attn"
    lora_vision: bool = False  # also adapt the vision-language mixer's attention
    save_every: int = Field(1000, ge=1)
    log_every: int = Field(10, ge=1)
    device: str = "auto"
    resume: bool = False
    seed: int = 0
    model: dict[str, Any] = Field(default_factory=dict)  # VLAConfig fields for scratch runs
    instruction_vectors: Path | None = None  # precomputed sentence vectors (language.py's main writes them)

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.method == "scratch" and self.init is not None:
            raise ValueError("--method scratch trains a new model: drop --init (or use full, head or lora)")
        if self.method != "scratch" and self.init is None:
            raise ValueError(f"--method {self.method} fine-tunes a checkpoint: give --init CKPT")
        if self.model and self.method != "scratch":
            raise ValueError(
                "model size options apply to --method scratch only (a fine-tune keeps its base's)"
            )
        return self

    @property
    def learning_rate(self) -> float:
        return self.lr or (1e-3 if self.method == "lora" else 3e-4)

    @property
    def warmup_steps(self) -> int:
        return self.warmup if self.warmup is not None else max(1, self.steps // 20)


def lora_target_regex(cfg: TrainConfig) -> str:
    parts = _ATTN if cfg.lora_targets == "attn" else f"({_ATTN}|{_MLP})"
    where = r"(action_head\.blocks|vl)" if cfg.lora_vision else r"action_head\.blocks"
    return rf".*{where}\.\d+\.{parts}"


def build_policy(cfg: TrainConfig) -> tuple[VLAPolicy, VLAConfig]:
    """The policy to train (base weights, adapters, frozen parts) before it sees the dataset's frames."""
    if cfg.method == "scratch":
        try:
            vcfg = VLAConfig.model_validate(cfg.model)
        except Exception as e:
            raise ValueError(f"model options: {e}") from None
        return VLAPolicy(vcfg, VLAModel(vcfg), Normalizer({})), vcfg
    assert cfg.init is not None
    base = VLAPolicy.load(cfg.init, merge=True)  # a LoRA checkpoint is fine-tuned from its merged weights
    model = base.network
    if cfg.method == "head":
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith("action_head.")
    elif cfg.method == "lora":
        from peft import LoraConfig, get_peft_model

        lcfg = LoraConfig(
            r=cfg.lora_rank,
            lora_alpha=cfg.lora_alpha,
            target_modules=lora_target_regex(cfg),
            lora_dropout=0.0,
        )
        base.model = get_peft_model(model, lcfg)
    return base, base.config


def lora_parameter_count(policy: VLAPolicy, cfg: TrainConfig) -> int:
    """What LoRA should train: rank x (in + out) for every targeted linear layer."""
    import re

    pattern = re.compile(lora_target_regex(cfg))
    total = 0
    for name, mod in policy.network.named_modules():
        base = getattr(mod, "base_layer", None)
        if isinstance(base, torch.nn.Linear) and pattern.fullmatch(name):
            total += cfg.lora_rank * (base.in_features + base.out_features)
    return total


class Augment:
    """Random shifts (up to 1/16 of the side) and brightness / contrast / saturation jitter, on the batch's
    device. Evaluation frames are never augmented, and a shift of zero is the identity."""

    def __init__(self, generator: torch.Generator) -> None:
        self.g = generator

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape

        def u(lo: float, hi: float, *shape: int) -> torch.Tensor:
            return (torch.rand((b, *shape), generator=self.g) * (hi - lo) + lo).to(x.device)

        pad = max(1, h // 16)
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="replicate")
        dx, dy = (torch.randint(0, 2 * pad + 1, (b,), generator=self.g) for _ in range(2))
        rows = (dy[:, None] + torch.arange(h)[None]).to(x.device)
        cols = (dx[:, None] + torch.arange(w)[None]).to(x.device)
        x = padded[torch.arange(b, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
        x = x.permute(0, 3, 1, 2)
        x = x * u(0.8, 1.2, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * u(0.8, 1.2, 1, 1, 1) + mean
        gray = x.mean(dim=1, keepdim=True)
        x = (x - gray) * u(0.8, 1.2, 1, 1, 1) + gray
        return x.clamp(0, 1)


class Batches:
    """Random batches from a DemoDataset as the network's normalized tensors."""

    def __init__(self, data: DemoDataset, policy: VLAPolicy, device: torch.device, seed: int) -> None:
        emb = data.embodiment
        norm = policy.normalizer
        on = device if device.type == "cuda" else torch.device("cpu")
        self.frames = data.frames.to(on)
        self.states = torch.from_numpy(norm.normalize(emb, "state", data.states)).to(on)
        self.actions = torch.from_numpy(norm.normalize(emb, "action", data.actions)).to(on)
        self.language = torch.from_numpy(policy.bank.get(data.instructions)).to(on)
        self.chunk_index = torch.from_numpy(data.chunk_index).to(on)
        self.instruction = torch.from_numpy(data.frame_instruction).to(on)
        self.device, self.n = device, len(data)
        self.g = torch.Generator().manual_seed(seed)

    def sample(
        self, size: int, augment: Augment | None, state_dropout: float = 0.0
    ) -> dict[str, torch.Tensor]:
        i = torch.randint(0, self.n, (size,), generator=self.g).to(self.frames.device)
        images = self.frames[i].to(self.device).float() / 255.0
        state = self.states[i].to(self.device)
        if state_dropout > 0:
            keep = torch.rand(size, generator=self.g) >= state_dropout
            state = state * keep[:, None].to(state.device, state.dtype)
        return {
            "images": augment(images) if augment else images,
            "language": self.language[self.instruction[i]].to(self.device),
            "state": state,
            "actions": self.actions[self.chunk_index[i]].to(self.device),
        }


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then cosine decay to 10% of the peak."""
    peak, warm = cfg.learning_rate, cfg.warmup_steps
    if step < warm:
        return peak * (step + 1) / warm
    frac = (step - warm) / max(1, cfg.steps - warm)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def _distributed() -> tuple[int, int, int]:
    """(rank, local rank, world size), initializing torch.distributed under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")), world


def _latest_state(out: Path) -> Path | None:
    found = sorted((out / "checkpoints").glob(f"step_*/{TRAINER_STATE}"))
    return found[-1] if found else None


class Trainer:
    def __init__(self, cfg: TrainConfig, log: Callable[[str], None] = print) -> None:
        self.cfg = cfg
        self.log = log
        self.rank, local, self.world = _distributed()
        device = resolve_device(cfg.device)
        if device.type == "cuda" and self.world > 1:
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        self.device = device
        torch.manual_seed(cfg.seed + self.rank)
        self.policy, self.vcfg = build_policy(cfg)

    def load_data(self, progress=None) -> DemoDataset:
        cfg = self.cfg
        tasks = cfg.tasks or None
        split = slice(None, -cfg.val_episodes) if cfg.val_episodes else None
        data = DemoDataset(cfg.dataset, self.vcfg, tasks, cfg.max_episodes, progress=progress, select=split)
        self.val = None
        if cfg.val_episodes:
            last = slice(-cfg.val_episodes, None)
            self.val = DemoDataset(cfg.dataset, self.vcfg, tasks, cfg.max_episodes, select=last)
        self.vcfg.locomotion = data.locomotion or self.vcfg.locomotion  # unsaid: the base checkpoint's
        if cfg.method == "scratch":
            self.policy.normalizer = Normalizer({data.embodiment: data.stats()})
        else:
            self.vcfg.embodiment(data.embodiment)  # a clear error for a checkpoint of another robot
            if data.embodiment not in self.policy.normalizer.stats:
                raise ValueError(f"{cfg.init}: no normalization statistics for '{data.embodiment}'")
        cache = cfg.dataset / "meta" / CACHE_FILE
        known = InstructionBank.load(cache)
        if cfg.instruction_vectors is not None:
            if not cfg.instruction_vectors.is_file():
                raise FileNotFoundError(f"--instruction-vectors: no file {cfg.instruction_vectors}")
            known.vectors.update(InstructionBank.load(cfg.instruction_vectors).vectors)
        for text in data.instructions:
            if text in known.vectors and text not in self.policy.bank.vectors:
                self.policy.bank.vectors[text] = known.vectors[text]
        self.policy.bank.get(data.instructions + (self.val.instructions if self.val else []))
        if self.rank == 0 and not cache.is_file():
            # A read-only dataset is fine: the vectors travel in the checkpoint anyway.
            with contextlib.suppress(OSError):
                InstructionBank({t: self.policy.bank.vectors[t] for t in data.instructions}).save(cache)
        self.data = data
        return data

    def run(self, progress: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, Any]:
        cfg, policy, dev = self.cfg, self.policy, self.device
        model = policy.model.to(dev)
        trainable = [p for p in model.parameters() if p.requires_grad]
        n_train, n_total = count_parameters(model)
        opt = torch.optim.AdamW(
            trainable, lr=cfg.learning_rate, weight_decay=cfg.weight_decay, betas=(0.9, 0.95)
        )
        ema = [p.detach().clone() for p in trainable] if cfg.ema else None
        step = 0
        if cfg.resume and (state_path := _latest_state(cfg.out)) is not None:
            state = torch.load(state_path, map_location=dev, weights_only=False)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            step = state["step"]
            if ema is not None and state.get("ema") is not None:
                ema = [t.to(dev) for t in state["ema"]]
            self.log(f"resumed from {state_path.parent} at step {step}")
        net = model
        if self.world > 1:
            net = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[dev.index] if dev.type == "cuda" else None
            )
        batches = Batches(self.data, policy, dev, cfg.seed * 1000 + self.rank + step)
        val = Batches(self.val, policy, dev, 0) if self.val is not None else None
        val_batch = val.sample(min(256, val.n), None) if val is not None else None
        augment = (
            Augment(torch.Generator().manual_seed(cfg.seed + 7 + self.rank + step)) if cfg.augment else None
        )
        writer = None
        if self.rank == 0:
            from torch.utils.tensorboard import SummaryWriter

            cfg.out.mkdir(parents=True, exist_ok=True)
            (cfg.out / "train_config.json").write_text(cfg.model_dump_json(indent=2) + "\n")
            writer = SummaryWriter(str(cfg.out / "tb"))
        emb = self.data.embodiment
        amp = dev.type == "cuda"
        summary: dict[str, Any] = {
            "trainable_params": n_train,
            "total_params": n_total,
            "frames": len(self.data),
            "episodes": len(self.data.episodes),
        }
        d = self.data
        self.log(
            f"{cfg.method}: {n_train:,} trainable of {n_total:,} parameters "
            f"({100 * n_train / n_total:.2f}%); "
            f"{len(d.episodes)} episodes, {len(d):,} frames, {len(d.instructions)} instructions"
        )
        model.train()
        t0, seen, losses = time.perf_counter(), 0, []
        first_loss = None
        while step < cfg.steps:
            lr = lr_at(step, cfg)
            for group in opt.param_groups:
                group["lr"] = lr
            batch = batches.sample(cfg.batch, augment, cfg.state_dropout)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                loss = net(emb, **batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad = float(torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip))
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    torch._foreach_lerp_(ema, [p.detach() for p in trainable], 1 - (cfg.ema or 0.0))
            step += 1
            seen += cfg.batch * self.world
            losses.append(float(loss.detach()))
            if first_loss is None:
                first_loss = losses[-1]
            if step % cfg.log_every == 0 or step == cfg.steps:
                rate = seen / (time.perf_counter() - t0)
                row = {
                    **({"val_loss": self.validate(net, emb, val_batch)} if val_batch else {}),
                    "step": step,
                    "loss": float(np.mean(losses)),
                    "lr": lr,
                    "grad_norm": grad,
                    "samples_s": rate,
                }
                losses = []
                if writer is not None:
                    for k in ("loss", "lr", "grad_norm", "samples_s"):
                        writer.add_scalar(f"train/{k}", row[k], step)
                    if "val_loss" in row:
                        writer.add_scalar("val/loss", row["val_loss"], step)
                    with (cfg.out / LOG_FILE).open("a") as f:
                        f.write(json.dumps(row) + "\n")
                if progress is not None:
                    progress(step, row)
                summary.update(final_loss=row["loss"], samples_s=rate)
                if "val_loss" in row:
                    summary["val_loss"] = row["val_loss"]
            if self.rank == 0 and (step % cfg.save_every == 0 or step == cfg.steps):
                self._save(step, model, opt, ema, trainable, final=step == cfg.steps)
        summary.update(first_loss=first_loss, steps=step, wall_s=time.perf_counter() - t0)
        if dev.type == "cuda":
            summary["gpu_memory_gb"] = torch.cuda.max_memory_allocated(dev) / 1e9
        if writer is not None:
            writer.close()
        return summary

    def validate(self, net, embodiment: str, batch: dict[str, torch.Tensor]) -> float:
        """Flow loss on held-out frames with fixed flow times and noise, so values compare across steps."""
        net.eval()
        with (
            torch.no_grad(),
            torch.random.fork_rng(devices=[self.device.index or 0] if self.device.type == "cuda" else []),
        ):
            torch.manual_seed(0)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                loss = float(net(embodiment, **batch))
        net.train()
        return loss

    def _save(self, step: int, model, opt, ema, trainable, final: bool) -> None:
        cfg = self.cfg
        folder = cfg.out / "checkpoints" / f"step_{step:06d}"
        live = None
        if ema is not None:  # saved weights are the average; training continues from the live ones
            live = [p.detach().clone() for p in trainable]
            with torch.no_grad():
                for p, e in zip(trainable, ema, strict=True):
                    p.copy_(e)
        self.policy.save(folder)
        if final:
            self.policy.save(cfg.out)
        if live is not None:
            with torch.no_grad():
                for p, v in zip(trainable, live, strict=True):
                    p.copy_(v)
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "ema": ema}
        torch.save(state, folder / TRAINER_STATE)
