"""Sharded model and sampler on 8 simulated CPU devices.

The device count is fixed when jax initialises, so the checks run in a fresh interpreter with
XLA_FLAGS=--xla_force_host_platform_device_count=8; it prints one JSON record per mesh and the test
asserts on those numbers.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

MESHES = [(8, 1, 1), (2, 4, 1), (2, 2, 2)]

SCRIPT = textwrap.dedent('''
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    from flax import nnx
    from rlar_jax.models.config import ModelConfig
    from rlar_jax.models.transformer import CausalLM
    from rlar_jax.rollout import SamplingConfig, generate
    from rlar_jax.sharding import MeshConfig, batch_sharding, make_mesh, shard_model

    assert jax.device_count() == 8, jax.devices()
    cfg = ModelConfig(arch="llama", vocab_size=96, hidden_size=32, intermediate_size=64, num_layers=2,
                      num_heads=4, num_kv_heads=2, head_dim=8)

    def build():
        m = CausalLM(cfg, rngs=nnx.Rngs(0))
        rng = np.random.default_rng(0)
        for path, var in nnx.to_flat_state(nnx.state(m, nnx.Param)):
            base = 1.0 if "norm" in path[-1] else 0.0
            var[...] = jnp.asarray(base + 0.3 * rng.standard_normal(var[...].shape), jnp.float32)
        return m

    tokens = jnp.asarray(np.random.default_rng(1).integers(1, 96, (8, 11)), jnp.int32)
    fwd = nnx.jit(lambda m, t: m(t)[0])
    ref_model = build()
    ref_logits = np.asarray(fwd(ref_model, tokens))
    prompts = [[5, 17, 3], [9, 44, 2, 71, 8, 30, 12]]
    sc = SamplingConfig(max_new_tokens=10, temperature=0.0, group_size=4, prompt_buckets=(8,), decode_chunk=4)
    ref_ids = np.asarray(generate(ref_model, prompts, sc, jax.random.key(0), pad_id=0).completion_ids)
    sc_t = SamplingConfig(max_new_tokens=10, temperature=1.0, top_k=8, group_size=4, prompt_buckets=(8,))
    ref_sampled = np.asarray(generate(ref_model, prompts, sc_t, jax.random.key(4), pad_id=0).completion_ids)

    for shape in json.loads(sys.argv[1]):
        mesh = make_mesh(MeshConfig(*shape))
        m = shard_model(build(), mesh)
        params = dict(nnx.to_flat_state(nnx.state(m, nnx.Param)))
        specs = {"/".join(map(str, k)): str(tuple(v[...].sharding.spec)) for k, v in params.items()}
        shards = {"/".join(map(str, k)): len({str(s.index) for s in v[...].addressable_shards})
                  for k, v in params.items()}
        logits = np.asarray(fwd(m, tokens))
        r = generate(m, prompts, sc, jax.random.key(0), pad_id=0, mesh=mesh)
        rs = generate(m, prompts, sc_t, jax.random.key(4), pad_id=0, mesh=mesh)
        print(json.dumps(dict(
            mesh=shape, specs=specs, shards=shards,
            logits_max_diff=float(np.abs(logits - ref_logits).max()),
            greedy_equal=bool((np.asarray(r.completion_ids) == ref_ids).all()),
            sampled_equal=bool((np.asarray(rs.completion_ids) == ref_sampled).all()),
            rows_per_shard=sorted({s.data.shape[0] for s in r.completion_ids.addressable_shards}),
            batch_sharded=all(a.sharding.is_equivalent_to(batch_sharding(mesh, a.ndim), a.ndim) for a in
                              (r.completion_ids, r.logprobs, r.lengths, r.prompt_ids)),
        )), flush=True)
''')


@pytest.fixture(scope="module")
def results() -> dict[tuple[int, ...], dict]:
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(MESHES)], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    recs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {tuple(r["mesh"]): r for r in recs}


@pytest.mark.parametrize("shape", MESHES)
def test_params_really_sharded(results: dict, shape: tuple[int, int, int]) -> None:
    r = results[shape]
    _, fsdp, tensor = shape
    wq = "model/blocks/wq"
    # wq logical axes (layers, embed, heads, None) -> (None, fsdp, tensor, None); size-1 axes still named
    assert r["specs"][wq] == str((None, "fsdp", "tensor", None))
    assert r["shards"][wq] == fsdp * tensor
    assert r["shards"]["model/embed"] == fsdp * tensor  # (vocab 96 over tensor, embed 32 over fsdp)
    assert r["shards"]["model/blocks/w_gate"] == fsdp * tensor
    if fsdp * tensor > 1:
        assert r["shards"]["model/blocks/wq"] > 1


@pytest.mark.parametrize("shape", MESHES)
def test_sharded_logits_match_single_device(results: dict, shape: tuple[int, int, int]) -> None:
    assert results[shape]["logits_max_diff"] < 1e-5


@pytest.mark.parametrize("shape", MESHES)
def test_sharded_sampler_matches_single_device(results: dict, shape: tuple[int, int, int]) -> None:
    r = results[shape]
    data, fsdp, _ = shape
    assert r["greedy_equal"] and r["sampled_equal"]
    assert r["batch_sharded"]  # rows over (data, fsdp)
    assert r["rows_per_shard"] == [8 // (data * fsdp)]
