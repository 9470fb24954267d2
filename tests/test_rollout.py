"""Rollout sampler on tiny random models: parity with the full forward pass, padding, stopping, sampling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlar_jax.decode import sample_tokens
from rlar_jax.models.config import ModelConfig
from rlar_jax.models.transformer import CausalLM
from rlar_jax.rollout import SamplingConfig, completion_logprobs, decode_completions, generate

V = 97
PAD = 0
PROMPTS = [[5, 17, 3], [9, 44, 2, 71, 8, 30, 12, 66, 1], [23]]


def tiny(arch: str = "llama", seed: int = 0) -> CausalLM:
    """A 2-layer model with every weight redrawn at std 0.3, so greedy margins dwarf float noise and
    biases / q-k norms are exercised (the default init has zero biases and unit norms)."""
    cfg = ModelConfig(arch=arch, vocab_size=V, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4,
                      num_kv_heads=2, head_dim=8, attention_bias=arch == "qwen2", qk_norm=arch == "qwen3",
                      tie_word_embeddings=arch == "llama")
    model = CausalLM(cfg, rngs=nnx.Rngs(seed))
    rng = np.random.default_rng(seed)
    for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        shape = var[...].shape
        base = 1.0 if "norm" in path[-1] else 0.0
        var[...] = jnp.asarray(base + 0.3 * rng.standard_normal(shape), jnp.float32)
    return model


@pytest.fixture(scope="module")
def model() -> CausalLM:
    return tiny()


def greedy_reference(model: CausalLM, prompt: list[int], n: int) -> tuple[list[int], list[float]]:
    """Token-by-token argmax of the full forward pass (no cache); the buffer is right-padded to a fixed
    length, which causal attention cannot see, so one compiled shape serves every step."""
    L = len(prompt) + n
    buf = np.zeros((1, L), np.int32)
    buf[0, : len(prompt)] = prompt
    fwd = nnx.jit(lambda m, t: m(t)[0])
    toks, lps = [], []
    for i in range(n):
        logits = np.asarray(fwd(model, jnp.asarray(buf)))[0, len(prompt) + i - 1]
        tok = int(np.argmax(logits))
        lps.append(float(jax.nn.log_softmax(logits)[tok]))
        toks.append(tok)
        buf[0, len(prompt) + i] = tok
    return toks, lps


GREEDY = SamplingConfig(max_new_tokens=12, temperature=0.0, prompt_buckets=(8, 16), decode_chunk=4,
                        completion_bucket=4)


@pytest.mark.parametrize("arch", ["llama", "qwen2", "qwen3"])
def test_greedy_equals_full_forward_argmax(arch: str) -> None:
    m = tiny(arch, seed=1)
    r = generate(m, PROMPTS, GREEDY, jax.random.key(0), pad_id=PAD)
    ids, lp = np.asarray(r.completion_ids), np.asarray(r.logprobs)
    assert ids.shape == (3, 12) and r.prompt_ids.shape == (3, 16)  # longest prompt 9 -> bucket 16
    for i, p in enumerate(PROMPTS):
        toks, lps = greedy_reference(m, p, 12)
        assert ids[i].tolist() == toks
        np.testing.assert_allclose(lp[i], lps, atol=1e-4)
    assert np.asarray(r.lengths).tolist() == [12, 12, 12] and np.asarray(r.truncated).all()


def test_logprobs_match_full_forward_when_sampling(model: CausalLM) -> None:
    cfg = SamplingConfig(max_new_tokens=10, temperature=0.7, top_k=20, top_p=0.9, group_size=3,
                         prompt_buckets=(16,), decode_chunk=3, completion_bucket=1)
    r = generate(model, PROMPTS, cfg, jax.random.key(3), pad_id=PAD, eos_ids=(7,))
    full = np.asarray(completion_logprobs(model, r, temperature=0.7))
    np.testing.assert_allclose(np.asarray(r.logprobs), full, atol=1e-4)
    mask = np.asarray(r.completion_mask)
    assert mask.sum() > 20 and np.all(full[~mask] == 0)


def test_group_repeats_identical_under_greedy(model: CausalLM) -> None:
    cfg = SamplingConfig(max_new_tokens=12, temperature=0.0, group_size=4, prompt_buckets=(8, 16), decode_chunk=4)
    r = generate(model, PROMPTS[:2], cfg, jax.random.key(0), pad_id=PAD)
    ids = np.asarray(r.completion_ids).reshape(2, 4, -1)
    assert (ids == ids[:, :1]).all()
    assert not (ids[0, 0] == ids[1, 0]).all()
    assert (np.asarray(r.prompt_ids).reshape(2, 4, -1) == np.asarray(r.prompt_ids).reshape(2, 4, -1)[:, :1]).all()


def test_sampled_group_members_differ(model: CausalLM) -> None:
    cfg = SamplingConfig(max_new_tokens=8, temperature=1.0, group_size=4, prompt_buckets=(16,))
    ids = np.asarray(generate(model, PROMPTS[:1], cfg, jax.random.key(1), pad_id=PAD).completion_ids)
    assert len({tuple(row) for row in ids}) == 4


def test_left_padding_matches_each_prompt_alone(model: CausalLM) -> None:
    batch = np.asarray(generate(model, PROMPTS, GREEDY, jax.random.key(0), pad_id=PAD).completion_ids)
    for i, p in enumerate(PROMPTS):
        alone = generate(model, [p], GREEDY, jax.random.key(0), pad_id=PAD)
        assert alone.prompt_ids.shape[1] == (8 if len(p) <= 8 else 16)
        assert np.asarray(alone.completion_ids)[0].tolist() == batch[i].tolist()


def test_windowed_attention_equals_one_window(model: CausalLM) -> None:
    one = generate(model, PROMPTS, SamplingConfig(**{**GREEDY.__dict__, "decode_chunk": 0}), jax.random.key(0),
                   pad_id=PAD)
    win = generate(model, PROMPTS, SamplingConfig(**{**GREEDY.__dict__, "decode_chunk": 5}), jax.random.key(0),
                   pad_id=PAD)
    assert np.asarray(one.completion_ids).tolist() == np.asarray(win.completion_ids).tolist()
    np.testing.assert_allclose(np.asarray(one.logprobs), np.asarray(win.logprobs), atol=1e-5)


def test_one_window_decodes_the_cache_in_place() -> None:
    """The last attention window is the cache itself (donated, updated in place): with one window the
    decode's workspace holds no copy of the cache; each earlier window adds one copy of its slots."""
    from rlar_jax.rollout import _decode, _Plan, _prefill, _windows

    cfg = ModelConfig(arch="llama", vocab_size=V, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4,
                      num_kv_heads=2, head_dim=8, tie_word_embeddings=True)
    graphdef, state = nnx.split(CausalLM(cfg, rngs=nnx.Rngs(0)))
    B, Pl, N = 64, 64, 192  # a 4 MiB cache, far larger than the weights and the per-step buffers
    ids, mask = jnp.ones((B, Pl), jnp.int32), jnp.ones((B, Pl), bool)
    logits, cache = _prefill(graphdef, state, ids, mask, group_size=1, total_slots=Pl + N, mesh=None)
    cache_bytes = sum(x.nbytes for x in jax.tree.leaves(cache))

    def temp(chunk: int) -> int:
        plan = _Plan(prompt_len=Pl, max_new=N, windows=_windows(Pl, N, chunk, 4), temperature=0.0, top_k=0,
                     top_p=1.0, stop_ids=(1,), pad_id=PAD, mesh=None)
        compiled = _decode.lower(graphdef, state, cache, logits, mask, jax.random.key(0), plan).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    one, windowed = temp(0), temp(64)  # windows of 128, 192, 256 slots: copies of the first two (3/4, 1/2)
    assert one < cache_bytes / 4, (one, cache_bytes)
    assert windowed - one > cache_bytes / 2, (windowed, one, cache_bytes)


def test_stop_on_eos_masks_lengths_and_pads(model: CausalLM) -> None:
    free = np.asarray(generate(model, PROMPTS, GREEDY, jax.random.key(0), pad_id=PAD).completion_ids)
    eos = int(free[0, 4])  # row 0 stops at its first occurrence of this token
    r = generate(model, PROMPTS, GREEDY, jax.random.key(0), pad_id=PAD, eos_ids=(eos,))
    ids, mask = np.asarray(r.completion_ids), np.asarray(r.completion_mask)
    lengths, trunc, lp = np.asarray(r.lengths), np.asarray(r.truncated), np.asarray(r.logprobs)
    for i in range(len(PROMPTS)):
        hits = np.flatnonzero(free[i] == eos)
        n = int(hits[0]) + 1 if len(hits) else 12
        assert lengths[i] == n and trunc[i] == (len(hits) == 0)
        assert ids[i, :n].tolist() == free[i, :n].tolist()
        assert mask[i, :n].all() and not mask[i, n:].any()
        assert (ids[i, n:] == PAD).all() and (lp[i, n:] == 0).all() and (lp[i, :n] < 0).all()
    assert lengths[0] <= 5 and not trunc[0]


def test_all_rows_stopped_cuts_width_to_bucket(model: CausalLM) -> None:
    free = np.asarray(generate(model, PROMPTS, GREEDY, jax.random.key(0), pad_id=PAD).completion_ids)
    stops = tuple(int(t) for t in {free[0, 1], free[1, 1], free[2, 1]} | {free[0, 0], free[1, 0], free[2, 0]})
    r = generate(model, PROMPTS, GREEDY, jax.random.key(0), pad_id=PAD, eos_ids=stops)
    assert int(np.asarray(r.lengths).max()) <= 2 and not np.asarray(r.truncated).any()
    assert r.completion_ids.shape == (3, 4) == r.logprobs.shape == r.completion_mask.shape  # bucket 4


def test_same_key_same_samples_different_key_different(model: CausalLM) -> None:
    cfg = SamplingConfig(max_new_tokens=10, temperature=1.0, group_size=2, prompt_buckets=(16,))
    a = np.asarray(generate(model, PROMPTS, cfg, jax.random.key(5), pad_id=PAD).completion_ids)
    b = np.asarray(generate(model, PROMPTS, cfg, jax.random.key(5), pad_id=PAD).completion_ids)
    c = np.asarray(generate(model, PROMPTS, cfg, jax.random.key(6), pad_id=PAD).completion_ids)
    assert a.tolist() == b.tolist()
    assert (a != c).mean() > 0.3


@pytest.mark.parametrize("kw", [dict(top_k=1), dict(top_p=1e-6), dict(top_k=5, top_p=1e-6)])
def test_degenerate_filters_equal_greedy(model: CausalLM, kw: dict) -> None:
    greedy = generate(model, PROMPTS, GREEDY, jax.random.key(0), pad_id=PAD)
    cfg = SamplingConfig(**{**GREEDY.__dict__, "temperature": 1.0, **kw})
    r = generate(model, PROMPTS, cfg, jax.random.key(9), pad_id=PAD)
    assert np.asarray(r.completion_ids).tolist() == np.asarray(greedy.completion_ids).tolist()
    np.testing.assert_allclose(np.asarray(r.logprobs), np.asarray(greedy.logprobs), atol=1e-5)  # both at T=1


def chi_square(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


PROBS = np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04])
LOGITS = jnp.log(jnp.asarray(PROBS))
TOP3 = np.array([0.4, 0.25, 0.15, 0, 0, 0]) / 0.8
N_DRAWS = 20000


@pytest.mark.parametrize("temperature,top_k,top_p,expected", [
    (1.0, 0, 1.0, PROBS),
    (0.5, 0, 1.0, PROBS ** 2 / np.sum(PROBS ** 2)),  # p^(1/T) renormalised
    (1.0, 3, 1.0, TOP3),
    (1.0, 0, 0.7, TOP3),  # 0.4 + 0.25 < 0.7: the third token is needed to reach top_p
    (0.5, 4, 0.8, PROBS[:2] ** 2 / np.sum(PROBS[:2] ** 2) @ np.eye(2, 6)),  # at T=0.5 the top two hold 0.86
])
def test_sampling_follows_distribution(temperature: float, top_k: int, top_p: float, expected) -> None:
    logits = jnp.broadcast_to(LOGITS, (N_DRAWS, 6))
    tok, lp = jax.jit(sample_tokens, static_argnums=(2, 3, 4))(logits, jax.random.key(0), temperature, top_k, top_p)
    counts = np.bincount(np.asarray(tok), minlength=6).astype(float)
    expected = np.asarray(expected, float)
    support = expected > 0
    assert counts[~support].sum() == 0
    # chi-square, df <= 5: P(stat > 20.5) = 0.001 under the null
    assert chi_square(counts[support], expected[support]) < 20.5
    ref = jax.nn.log_softmax(LOGITS / temperature)  # log-probs before filtering
    np.testing.assert_allclose(np.asarray(lp), np.asarray(ref)[np.asarray(tok)], atol=1e-5)


def test_first_token_distribution_end_to_end() -> None:
    m = tiny(seed=2)
    prompt = [4, 8, 15, 16, 23]
    T = 0.8
    cfg = SamplingConfig(max_new_tokens=1, temperature=T, group_size=4000, prompt_buckets=(8,))
    r = generate(m, [prompt], cfg, jax.random.key(11), pad_id=PAD)
    counts = np.bincount(np.asarray(r.completion_ids)[:, 0], minlength=V).astype(float)
    logits = np.asarray(m(jnp.asarray([prompt]))[0])[0, -1]
    probs = np.asarray(jax.nn.softmax(jnp.asarray(logits) / T))
    big = probs * 4000 >= 5  # pool rare tokens into one bin
    c = np.append(counts[big], counts[~big].sum())
    p = np.append(probs[big], probs[~big].sum())
    df = len(c) - 1
    assert chi_square(c, p) < df + 4 * np.sqrt(2 * df)  # ~4 sigma of the chi-square null


def test_decode_completions_strips_stop_token(model: CausalLM) -> None:
    free = np.asarray(generate(model, PROMPTS, GREEDY, jax.random.key(0), pad_id=PAD).completion_ids)
    eos = int(free[0, 2])
    r = generate(model, PROMPTS, GREEDY, jax.random.key(0), pad_id=PAD, eos_ids=(eos,))

    class Tok:
        def decode(self, ids):
            return ",".join(map(str, ids))

    texts = decode_completions(Tok(), r)
    n0 = int(np.asarray(r.lengths)[0])
    assert texts[0] == ",".join(map(str, free[0, : n0 - 1])) and str(eos) not in texts[0].split(",")


@pytest.mark.parametrize("kw,field", [(dict(temperature=-1.0), "temperature"), (dict(top_p=0.0), "top_p"),
                                      (dict(group_size=0), "group_size"), (dict(max_new_tokens=0), "max_new_tokens"),
                                      (dict(prompt_buckets=(64, 32)), "prompt_buckets")])
def test_bad_config_names_field(kw: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"SamplingConfig.{field}"):
        SamplingConfig(**kw)


def test_bad_prompts_rejected(model: CausalLM) -> None:
    with pytest.raises(ValueError, match=r"prompt_ids\[1\].*outside"):
        generate(model, [[1, 2], [3, V + 5]], GREEDY, jax.random.key(0), pad_id=PAD)
    with pytest.raises(ValueError, match=r"prompt_ids\[0\] is empty"):
        generate(model, [[]], GREEDY, jax.random.key(0), pad_id=PAD)
    with pytest.raises(ValueError, match="pad_id"):
        generate(model, [[1]], GREEDY, jax.random.key(0), pad_id=-1)


def test_window_plan_and_prompt_buckets() -> None:
    from rlar_jax.rollout import _windows, prompt_bucket

    assert _windows(128, 128, 64, 4) == (192, 256)
    assert _windows(128, 1024, 64, 4) == (384, 640, 896, 1152)  # growth raised to fit 4 windows
    assert _windows(16, 10, 3, 4) == (19, 22, 25, 26)
    assert _windows(16, 10, 0, 4) == (26,)
    assert [prompt_bucket(n, (64, 128)) for n in (1, 64, 65, 128, 129, 300)] == [64, 64, 128, 128, 256, 384]


def test_fast_argmax_matches_numpy_first_max() -> None:
    from rlar_jax.decode import argmax

    x = np.round(np.random.default_rng(0).standard_normal((64, 1000)), 1).astype(np.float32)  # many ties
    x[3] = 0.0
    x[5, [7, 900]] = 9.0
    got = np.asarray(jax.jit(argmax)(jnp.asarray(x)))
    assert got.tolist() == np.argmax(x, axis=-1).tolist()
    assert got[3] == 0 and got[5] == 7
