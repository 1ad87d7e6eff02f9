"""Instruction vectors: the frozen all-MiniLM-L6-v2 sentence vectors of ``skills.sentences``.

The encoder is frozen and instructions are a finite set, so vectors are computed once and travel as
data (in a checkpoint's ``instructions.json``, in a dataset's cache): a GPU machine that cannot carry
the 90 MB weights trains and runs from them, and only an instruction never seen needs the encoder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from skills.sentences import encode

CACHE_FILE = "tandem_instruction_vectors.json"  # in a dataset's meta/ folder


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
    """Write sentence vectors for a machine without the encoder (the GPU machine):
    ``python -m skills.policies.vla.language --out vectors.json [--tasks-json tasks.json] [--recipes]
    [TEXT ...]``, where tasks.json is ``tandem collect --list --json`` (instructions and paraphrases) and
    ``--recipes`` adds the offline planner's recipe texts, so that it plans the tasks' instructions there
    (point ``TANDEM_SENTENCE_VECTORS`` at the file)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m skills.policies.vla.language", description=main.__doc__)
    ap.add_argument("texts", nargs="*")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--tasks-json", type=Path, default=None)
    ap.add_argument("--recipes", action="store_true", help="add the offline planner's recipe texts")
    args = ap.parse_args(argv)
    texts = list(args.texts)
    if args.tasks_json is not None:
        for task in json.loads(args.tasks_json.read_text()):
            texts += [task["instruction"], *task.get("paraphrases", [])]
    if args.recipes:
        from planner.offline.mentions import strip_params
        from planner.offline.recipes import load_library

        texts += [strip_params(t) for t in texts]  # what the matcher embeds of a request
        texts += [t for recipe in load_library().recipes.values() for t in recipe.texts()]
    bank = InstructionBank.load(args.out)
    bank.get(texts)
    bank.save(args.out)
    print(f"{len(bank.vectors)} instruction vectors in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
