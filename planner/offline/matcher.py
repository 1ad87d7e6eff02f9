"""Which recipe a request asks for: cosine similarity of sentence embeddings, offline.

The vectors are all-MiniLM-L6-v2 sentence embeddings (``skills.sentences``). A recipe scores the best
cosine between the request and any of its texts (title, aliases, description, examples): a bare title is
too far from its paraphrases ("make the foam volcano").
"""

from __future__ import annotations

from functools import cache

import numpy as np

from planner.offline.recipes import Library
from skills.sentences import encode


@cache
def _embed_once(texts: tuple[str, ...]) -> np.ndarray:
    # Recipe texts are the same for every request in a process (eval workers run many episodes).
    return encode(list(texts))


class Matcher:
    def __init__(self, library: Library) -> None:
        self.names = list(library.recipes)
        texts = [library.recipes[n].texts() for n in self.names]
        self._owner = np.repeat(np.arange(len(self.names)), [len(t) for t in texts])
        self._vectors = _embed_once(tuple(t for ts in texts for t in ts))

    def rank(self, request: str) -> list[tuple[str, float]]:
        """Every recipe with its score, best first."""
        cos = self._vectors @ encode([request])[0]
        best = np.full(len(self.names), -1.0)
        np.maximum.at(best, self._owner, cos)
        order = np.argsort(-best)
        return [(self.names[i], round(float(best[i]), 4)) for i in order]
