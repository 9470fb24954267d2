"""Loading straight into a (data, fsdp, tensor) mesh of 4 CPU devices (in a subprocess, because the device
count is fixed when JAX starts)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import torch
import transformers

from tests.models.conftest import hf_config, randomize, save_tiny

CHILD = textwrap.dedent("""
    import sys
    import jax, jax.numpy as jnp, numpy as np
    from flax import nnx
    from jax.sharding import PartitionSpec as P
    from rlar_jax.models import export_hf, load_model
    from rlar_jax.sharding import DEFAULT_RULES, make_mesh, param_shardings

    ckpt, out = sys.argv[1], sys.argv[2]
    assert jax.device_count() == 4
    mesh = make_mesh((1, 2, 2))
    loaded = load_model(ckpt, mesh=mesh)
    want = dict(nnx.to_flat_state(param_shardings(loaded.model, mesh, DEFAULT_RULES)))
    specs = {}
    for path, var in nnx.to_flat_state(nnx.state(loaded.model, nnx.Param)):
        arr = var.get_value()
        assert arr.sharding == want[path], (path, arr.sharding, want[path])
        specs[".".join(map(str, path))] = arr.sharding.spec
    assert specs["model.blocks.wq"] == P(None, "fsdp", "tensor", None), specs["model.blocks.wq"]
    assert specs["lm_head"] == P("fsdp", "tensor"), specs["lm_head"]
    # Each device holds a quarter of w_gate: half the embed axis x half the mlp axis.
    shard = loaded.model.model.blocks.w_gate[...].addressable_shards[0].data
    assert shard.shape == (2, 32, 48), shard.shape
    tokens = np.load(out + "/tokens.npy")
    np.save(out + "/logits.npy", np.asarray(loaded.model(jnp.asarray(tokens))[0]))
    export_hf(loaded.model, loaded.config, loaded.tokenizer, out + "/export")
    print("OK")
""")


def test_load_into_mesh_matches_transformers(tmp_path):
    original = randomize(transformers.Qwen2ForCausalLM(hf_config("qwen2")), seed=8)
    ckpt = save_tiny(original, tmp_path / "ckpt")
    tokens = np.random.default_rng(0).integers(3, 128, size=(2, 16)).astype(np.int32)
    np.save(tmp_path / "tokens.npy", tokens)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(ckpt), str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).parents[2])
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-3000:]
    with torch.no_grad():
        ref = original(torch.as_tensor(tokens, dtype=torch.long)).logits.numpy()
    assert np.abs(np.load(tmp_path / "logits.npy") - ref).max() < 1e-4
    again = transformers.Qwen2ForCausalLM.from_pretrained(tmp_path / "export", dtype=torch.float32)
    for name, tensor in original.state_dict().items():  # the sharded model exports every weight intact
        np.testing.assert_array_equal(again.state_dict()[name].numpy(), tensor.numpy(), err_msg=name)
