"""Embedding-similarity reward (`minilm-embed-sim`): how close a response is in meaning to the reference.

score = (cos + 1) / 2, with cos the cosine between the normalised sentence embeddings of the response and
the reference. Why this mapping rather than clip(cos, 0, 1): it is monotone and affine, so nothing is lost
(clipping would give every response with cos <= 0 the same 0, erasing their ranking), GRPO's per-group
advantage normalisation sees exactly the cosine's ordering and spacing, and it is the catalog's
`{"type": "minmax", "min": -1, "max": 1}` normalisation of this entry. The cost is an offset: unrelated
text has cos near 0 and so scores about 0.5, which matters only when mixed with other components.
A row with an empty reference scores NaN (nothing to compare with).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from rlar_jax.rewards.models.bert import SentenceEncoder, load_sentence_encoder
from rlar_jax.rewards.normalise import normalise  # noqa: F401  (re-exported for the reward models)


def batch_size(prompts: list, responses: list, references: list, metas: list) -> int:
    """Rows of a reward-model call; every column must have one item per response (never broadcast)."""
    n = len(responses)
    for name, xs in (("prompts", prompts), ("references", references), ("metas", metas)):
        if len(xs) != n:
            raise ValueError(f"{name}: got {len(xs)} items for {n} responses")
    return n


class EmbeddingSimilarity:
    """Batched reward fn: (prompts, responses, references, metas) -> (cos + 1) / 2, NaN without a reference."""

    def __init__(self, encoder: SentenceEncoder | None = None,
                 normalisation: dict[str, Any] | None = None):
        """`encoder` defaults to all-MiniLM-L6-v2; `normalisation` defaults to minmax over [-1, 1]."""
        self.encoder = encoder if encoder is not None else load_sentence_encoder()
        self.normalisation = normalisation or {"type": "minmax", "min": -1.0, "max": 1.0}
        normalise(np.zeros(1), self.normalisation)  # reject a bad spec now, not at the first batch

    def cosine(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Cosine similarity of a[i] and b[i]; each distinct text is encoded once."""
        if len(a) != len(b):
            raise ValueError(f"cosine: got {len(a)} and {len(b)} texts; expected equal lengths")
        # In GRPO the G samples of a prompt share one reference: encode it once.
        uniq = list(dict.fromkeys([*a, *b]))
        emb = self.encoder.encode(uniq)
        at = {t: i for i, t in enumerate(uniq)}
        ea = emb[[at[t] for t in a]] if a else np.zeros((0, self.encoder.dim), np.float32)
        eb = emb[[at[t] for t in b]] if b else np.zeros((0, self.encoder.dim), np.float32)
        return np.sum(ea * eb, axis=-1)

    def __call__(self, prompts: list[str], responses: list[str], references: list[str],
                 metas: list[dict]) -> list[float]:
        """Scores in [0, 1]; NaN where the reference is empty or an input is not a string."""
        n = batch_size(prompts, responses, references, metas)
        out = [math.nan] * n
        idx = [i for i in range(n) if isinstance(responses[i], str) and isinstance(references[i], str)
               and references[i].strip()]
        if idx:
            cos = self.cosine([responses[i] for i in idx], [references[i] for i in idx])
            for i, s in zip(idx, normalise(cos, self.normalisation)):
                out[i] = float(s)
        return out
