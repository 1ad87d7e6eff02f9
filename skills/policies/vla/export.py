"""Export a checkpoint to ship: LoRA adapter folded into the weights, weights stored as float16.

``python -m skills.policies.vla.export CKPT OUT [--dtype float16|float32]``. Halves a checkpoint (the
default model is 46 MiB as float32, 23 MiB as float16); the actions it gives differ from the float32
checkpoint's by float16 rounding of the weights only (``python -m eval.bench policy`` reports how much).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

from skills.policies.vla.policy import VLAPolicy

DTYPES = {"float16": torch.float16, "float32": torch.float32}


def export(src: Path, out: Path, dtype: str = "float16") -> Path:
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty: export into a new folder")
    policy = VLAPolicy.load(src, device="cpu", merge=True)
    policy.save(out, DTYPES[dtype])
    for name in ("train_config.json", "summary.json"):  # how it was made travels with it
        if (src / name).is_file():
            shutil.copy2(src / name, out / name)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m skills.policies.vla.export", description=__doc__)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="float16")
    args = ap.parse_args(argv)
    out = export(args.checkpoint, args.out, args.dtype)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"exported {args.checkpoint} -> {out} ({size / 2**20:.1f} MiB, {args.dtype})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
