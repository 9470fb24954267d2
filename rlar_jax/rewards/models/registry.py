"""`load_reward_model`: a catalog entry (or its id) as a batched reward fn, by its kind's registered loader.

Every fn has the signature `(prompts, responses, references, metas) -> list[float]` with scores in
[0, 1] (NaN for an item it cannot score), and maps its raw output through the entry's `normalisation`.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rlar_jax.models.loader import LoadedModel
from rlar_jax.rewards.base import RewardModelFn
from rlar_jax.rewards.catalog import Catalog, CatalogEntry
from rlar_jax.rewards.model_kinds import kind_loader
from rlar_jax.rewards.models.bt import BTRewardModel, FeatureExtractor, chat_messages, load_head
from rlar_jax.rewards.models.embedding import EmbeddingSimilarity, batch_size, normalise

DEFAULT_JUDGE_MODEL = "smollm2-135m-instruct"

_frozen: dict[tuple[str, str], LoadedModel] = {}
_frozen_lock = threading.Lock()


def _load(name_or_path: str, head: str = "causal_lm") -> LoadedModel:
    """A frozen model, loaded once per process (several reward models may share one backbone)."""
    from rlar_jax.models import load_model

    key = (name_or_path, head)
    with _frozen_lock:
        if key not in _frozen:
            _frozen[key] = load_model(name_or_path, head=head)
        return _frozen[key]


class SeqClsRewardModel:
    """Batched reward fn over a sequence-classification checkpoint: its scalar at the last token, normalised."""

    def __init__(self, loaded: LoadedModel, normalisation: dict[str, Any] | None = None, max_len: int = 1024,
                 batch_size: int = 8):
        """`loaded` must have head="seq_cls" with num_labels == 1."""
        if loaded.config.num_labels != 1:
            raise ValueError(f"{loaded.source}: num_labels must be 1 for a scalar reward model, "
                             f"got {loaded.config.num_labels}")
        self.loaded, self.max_len, self.batch_size = loaded, int(max_len), int(batch_size)
        self.normalisation = normalisation or {"type": "sigmoid"}
        normalise(np.zeros(1), self.normalisation)
        graphdef = nnx.graphdef(loaded.model)

        def scores(state: nnx.State, tokens: jax.Array, mask: jax.Array) -> jax.Array:
            return nnx.merge(graphdef, state)(tokens, None, mask.astype(bool))[:, 0]

        self._scores = jax.jit(scores)

    def raw(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """The head's scalar for each (prompt, response) rendered by the chat template."""
        tok = self.loaded.tokenizer
        texts = [tok.apply_chat_template(chat_messages(p, r), add_generation_prompt=False)
                 for p, r in zip(prompts, responses)]
        ids = [x[-self.max_len:] for x in tok.encode_batch(texts)]
        out = np.zeros(len(ids))
        state = nnx.state(self.loaded.model)
        for s in range(0, len(ids), self.batch_size):
            chunk = ids[s:s + self.batch_size]
            width = -(-max(len(x) for x in chunk) // 32) * 32
            buf = np.full((self.batch_size, width), tok.pad_id, np.int32)
            mask = np.zeros((self.batch_size, width), np.int32)
            mask[len(chunk):, 0] = 1
            for r, x in enumerate(chunk):
                buf[r, :len(x)], mask[r, :len(x)] = x, 1
            out[s:s + len(chunk)] = np.asarray(self._scores(state, jnp.asarray(buf), jnp.asarray(mask)))[:len(chunk)]
        return out

    def __call__(self, prompts: list[str], responses: list[str], references: list[str],
                 metas: list[dict]) -> list[float]:
        """Normalised scores in [0, 1] (NaN where prompt or response is not a string); references are not used."""
        n = batch_size(prompts, responses, references, metas)
        out = [math.nan] * n
        ok = [i for i in range(n) if isinstance(prompts[i], str) and isinstance(responses[i], str)]
        if ok:
            vals = normalise(self.raw([prompts[i] for i in ok], [responses[i] for i in ok]), self.normalisation)
            for i, v in zip(ok, vals):
                out[i] = float(v)
        return out


def _entry(entry_or_id: CatalogEntry | str, catalog: Catalog | None) -> CatalogEntry:
    if isinstance(entry_or_id, CatalogEntry):
        return entry_or_id
    if not isinstance(entry_or_id, str):
        raise TypeError(f"entry_or_id: expected a CatalogEntry or an id string, got {type(entry_or_id).__name__}")
    catalog = catalog if catalog is not None else Catalog()
    entry = catalog.get(entry_or_id)
    if entry is None:
        raise KeyError(f"reward model {entry_or_id!r} is not in the catalog; known: "
                       f"{[e.id for e in catalog.entries()]}")
    return entry


def load_reward_model(entry_or_id: CatalogEntry | str, *, policy: LoadedModel | None = None,
                      catalog: Catalog | None = None, backbone: LoadedModel | None = None) -> RewardModelFn:
    """A batched `RewardModelFn` for a catalog entry or id, built by the loader registered for its kind
    (`rlar_jax.rewards.model_kinds`).

    policy: the model a `judge` entry with source "policy" scores with (default: smollm2-135m-instruct).
    catalog: where ids are looked up (default: built-ins + `$RLAR_JAX_HOME/reward_models/*.json`).
    backbone: an already loaded frozen backbone for a `bt_head` entry (default: load the one its head names).
    """
    e = _entry(entry_or_id, catalog)
    try:
        loader = kind_loader(e.kind)
    except ValueError as err:
        raise ValueError(f"catalog entry {e.id!r}: {err}") from err
    return loader(e, policy=policy, backbone=backbone)


# ------------------------------------------------------------------ loaders of the built-in kinds


def load_embedding(e: CatalogEntry, **_: Any) -> RewardModelFn:
    """`embedding`: cosine similarity of MiniLM (BERT) sentence embeddings of response and reference."""
    if e.architecture != "bert":
        raise ValueError(f"catalog entry {e.id!r}: embedding architecture must be 'bert', got {e.architecture!r}")
    from rlar_jax.rewards.models.bert import MINILM_PACKAGE, load_sentence_encoder, minilm_dir

    if e.source.startswith("pypi:"):
        if e.source != f"pypi:{MINILM_PACKAGE}":
            raise ValueError(f"catalog entry {e.id!r}: source {e.source!r}: only pypi:{MINILM_PACKAGE} is known")
        model_dir = minilm_dir()
    else:
        model_dir = Path(e.source).expanduser()
    return EmbeddingSimilarity(load_sentence_encoder(model_dir), e.normalisation or None)


def load_judge(e: CatalogEntry, *, policy: LoadedModel | None = None, **_: Any) -> RewardModelFn:
    """`judge`: a generative judge on `policy` (source "policy") or on the LM the source names."""
    from rlar_jax.rewards.models.judge import GenerativeJudge

    if e.source == "policy":
        model = policy if policy is not None else _load(DEFAULT_JUDGE_MODEL)
    else:
        model = _load(e.source.removeprefix("hf:"))
    return GenerativeJudge(model, normalisation=e.normalisation or None)


def load_bt_head(e: CatalogEntry, *, backbone: LoadedModel | None = None, **_: Any) -> RewardModelFn:
    """`bt_head`: a Bradley-Terry head over a frozen backbone (`backbone`, else the one the head names)."""
    head, meta = load_head(Path(e.source).expanduser())
    lm = backbone if backbone is not None else _load(meta["backbone"])
    extractor = FeatureExtractor(lm, max_len=int(meta["max_len"]), pooling=meta["pooling"])
    return BTRewardModel(extractor, head, e.normalisation or None)


def load_hf_seq_cls(e: CatalogEntry, **_: Any) -> RewardModelFn:
    """`hf_seq_cls`: a sequence-classification reward checkpoint (local path or "hf:<repo id>")."""
    return SeqClsRewardModel(_load(e.source.removeprefix("hf:"), head="seq_cls"), e.normalisation or None)
