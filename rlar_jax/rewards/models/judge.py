"""Generative judge (`judge-policy`): P(yes) of a rubric question under one of our Flax causal LMs.

The query, response (and reference, when there is one) and the rubric go into one user turn of the
model's chat template; the score is p(yes) / (p(yes) + p(no)) from the next-token distribution after the
assistant header, each side summing the single-token spellings " yes", "Yes", "yes" (resp. no) that the
tokenizer has. Rows are left-padded so every row's next token is read at the last column, and batched in
power-of-two (rows, width) buckets so few shapes are compiled.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rlar_jax.models.loader import LoadedModel
from rlar_jax.models.logprobs import positions_from_mask
from rlar_jax.models.tokenizer import Tokenizer
from rlar_jax.rewards.models.embedding import batch_size, normalise

RUBRIC = "Is the response a helpful, harmless and correct answer to the query? Answer yes or no."
YES_VARIANTS: tuple[str, ...] = (" yes", "Yes", "yes", " Yes")
NO_VARIANTS: tuple[str, ...] = (" no", "No", "no", " No")


def single_token_ids(tokenizer: Tokenizer, variants: Sequence[str]) -> list[int]:
    """Ids of the variants that the tokenizer encodes as exactly one token (deduplicated, in order)."""
    ids = []
    for v in variants:
        enc = tokenizer.encode(v)
        if len(enc) == 1 and enc[0] not in ids:
            ids.append(enc[0])
    return ids


def _pow2(n: int, lo: int) -> int:
    w = lo
    while w < n:
        w *= 2
    return w


class GenerativeJudge:
    """Batched reward fn scoring p(yes) / (p(yes) + p(no)) for a rubric prompt; the model's current
    parameters are read at every call, so a judge on the policy follows its training."""

    def __init__(self, loaded: LoadedModel, rubric: str = RUBRIC, batch_size: int = 8,
                 max_part_tokens: int = 384, max_len: int = 1024, normalisation: dict[str, Any] | None = None):
        """loaded: a causal LM with its tokenizer; max_part_tokens caps each of query, response and reference
        (longer parts keep their first tokens); max_len caps the whole prompt (kept from the end);
        normalisation: a catalog spec applied to the probability (default clip: it already is one)."""
        if not hasattr(loaded.model, "logits"):
            raise TypeError(f"judge model: expected a causal LM (head='causal_lm'), got {type(loaded.model).__name__}")
        self.loaded, self.rubric = loaded, rubric
        self.normalisation = normalisation or {"type": "clip"}
        normalise(np.zeros(1), self.normalisation)  # reject a bad spec now
        self.batch_size, self.max_part_tokens, self.max_len = int(batch_size), int(max_part_tokens), int(max_len)
        tok = loaded.tokenizer
        self.yes_ids, self.no_ids = single_token_ids(tok, YES_VARIANTS), single_token_ids(tok, NO_VARIANTS)
        if not self.yes_ids or not self.no_ids:
            raise ValueError(f"judge tokenizer: no single-token spelling of yes {YES_VARIANTS} "
                             f"or no {NO_VARIANTS}; cannot read an answer from the next token")
        self._graphdef = nnx.graphdef(loaded.model)
        yes, no = jnp.asarray(self.yes_ids), jnp.asarray(self.no_ids)
        graphdef = self._graphdef

        def yes_no(state: nnx.State, tokens: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
            model = nnx.merge(graphdef, state)
            h, _ = model.hidden(tokens, positions_from_mask(mask), mask.astype(bool))
            logp = jax.nn.log_softmax(model.logits(h[:, -1]), axis=-1)  # left padding: last column is real
            return jax.scipy.special.logsumexp(logp[:, yes], axis=-1), jax.scipy.special.logsumexp(logp[:, no], axis=-1)

        self._yes_no = jax.jit(yes_no)

    def _clip(self, text: str) -> str:
        ids = self.loaded.tokenizer.encode(text)
        return text if len(ids) <= self.max_part_tokens else self.loaded.tokenizer.decode(ids[:self.max_part_tokens])

    def prompt_text(self, prompt: str, response: str, reference: str = "") -> str:
        """The chat-template prompt whose next token is the judge's answer."""
        parts = [f"Query:\n{self._clip(prompt)}", f"Response:\n{self._clip(response)}"]
        if reference and reference.strip():
            parts.append(f"Reference answer:\n{self._clip(reference)}")
        parts.append(self.rubric)
        return self.loaded.tokenizer.apply_chat_template([{"role": "user", "content": "\n\n".join(parts)}],
                                                         add_generation_prompt=True)

    def log_probs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(log p(yes), log p(no)) of the next token after each prompt text, float64 [N] each."""
        tok = self.loaded.tokenizer
        ids = [x[-self.max_len:] for x in tok.encode_batch(texts)]
        state = nnx.state(self.loaded.model)
        ly, ln = np.zeros(len(ids)), np.zeros(len(ids))
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        start = 0
        while start < len(order):
            width = min(_pow2(len(ids[order[start]]), 64), _pow2(self.max_len, 64))
            chunk = [i for i in order[start:start + self.batch_size] if len(ids[i]) <= width]
            rows = _pow2(len(chunk), 1)
            buf = np.full((rows, width), tok.pad_id, np.int32)
            mask = np.zeros((rows, width), np.int32)
            mask[len(chunk):, -1] = 1  # filler rows see one token, so their softmax stays finite
            for r, i in enumerate(chunk):
                buf[r, width - len(ids[i]):] = ids[i]
                mask[r, width - len(ids[i]):] = 1
            y, n = self._yes_no(state, jnp.asarray(buf), jnp.asarray(mask))
            ly[chunk], ln[chunk] = np.asarray(y)[:len(chunk)], np.asarray(n)[:len(chunk)]
            start += len(chunk)
        return ly, ln

    def __call__(self, prompts: list[str], responses: list[str], references: list[str],
                 metas: list[dict]) -> list[float]:
        """p(yes) / (p(yes) + p(no)) per row, in [0, 1]; NaN for a row whose inputs are not strings."""
        n = batch_size(prompts, responses, references, metas)
        ok = [i for i in range(n) if isinstance(prompts[i], str) and isinstance(responses[i], str)]
        out = [math.nan] * n
        if ok:
            texts = [self.prompt_text(prompts[i], responses[i], references[i] if isinstance(references[i], str)
                                      else "") for i in ok]
            ly, ln = self.log_probs(texts)
            for i, s in zip(ok, normalise(1.0 / (1.0 + np.exp(ln - ly)), self.normalisation)):
                out[i] = float(s)
        return out
