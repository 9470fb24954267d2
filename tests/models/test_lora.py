"""LoRA adapters (rlar_jax/models/lora.py): the forward pass, the merged copy, the KL reference, the
merged export that transformers loads, and the errors for bad settings."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "tiny.yaml"
TOKENS = np.random.default_rng(7).integers(0, 259, size=(2, 20)).astype(np.int32)


def _policy(overrides: list[str] = ()):
    from rlar_jax.config import load_config
    from rlar_jax.policy import build_policy

    cfg = load_config(TINY, ["model.lora.rank=4", "model.lora.alpha=8", *overrides])
    return cfg, build_policy(cfg.model, None)


def _perturb_adapters(model, seed: int = 1, scale: float = 0.05) -> None:
    """Give every B a non-zero value (fresh adapters are exactly zero)."""
    state = nnx.state(model, nnx.LoRAParam)
    leaves, treedef = jax.tree.flatten(state)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    nnx.update(model, jax.tree.unflatten(treedef, [x + scale * jax.random.normal(k, x.shape, x.dtype)
                                                   for x, k in zip(leaves, keys)]))


def _logits(model) -> np.ndarray:
    return np.asarray(model(jnp.asarray(TOKENS))[0], np.float32)


def test_adapters_start_as_identity_and_merge_exactly():
    from rlar_jax.config import load_config
    from rlar_jax.models.lora import adapters, lora_param_count, merged_model
    from rlar_jax.policy import build_policy

    base = build_policy(load_config(TINY).model, None).model
    _, policy = _policy()
    model = policy.model
    np.testing.assert_array_equal(_logits(model), _logits(base))  # B = 0: the same function
    # rank 4 on the 7 projections of 2 layers (hidden 64, MLP 128, 4 heads of 16, 2 KV heads)
    per_layer = 4 * ((64 + 64) + (64 + 32) * 2 + (64 + 64) + 2 * (64 + 128) + (128 + 64))
    assert lora_param_count(model) == 2 * per_layer

    _perturb_adapters(model)
    unmerged = _logits(model)
    assert np.abs(unmerged - _logits(base)).max() > 1e-2  # the adapters now change the outputs
    merged = merged_model(model)
    assert adapters(merged) is None and adapters(model) is not None  # the original keeps its adapters
    np.testing.assert_allclose(_logits(merged), unmerged, atol=2e-5)
    np.testing.assert_allclose(_logits(model), unmerged, atol=0)  # merging did not touch `model`


def test_sampling_with_adapters_matches_the_merged_copy():
    """The decode path applies the adapters itself (generate on the LoRA model) and through the merged
    copy the trainer samples with: same greedy tokens, log-probs within float32 rounding."""
    from rlar_jax.precision import ComputeCopy
    from rlar_jax.rollout import SamplingConfig, generate

    _, policy = _policy()
    _perturb_adapters(policy.model, scale=0.2)
    sampling = SamplingConfig(max_new_tokens=8, temperature=0.0, group_size=1, stop_token_ids=())
    prompts = [list(map(int, TOKENS[0, :9])), list(map(int, TOKENS[1, :5]))]
    copy = ComputeCopy(policy.model)
    assert copy.needed and copy.get() is not policy.model
    a = generate(policy.model, prompts, sampling, jax.random.key(0), pad_id=0, eos_ids=())
    b = generate(copy.get(), prompts, sampling, jax.random.key(0), pad_id=0, eos_ids=())
    np.testing.assert_array_equal(np.asarray(a.completion_ids), np.asarray(b.completion_ids))
    np.testing.assert_allclose(np.asarray(a.logprobs), np.asarray(b.logprobs), atol=1e-4)


def test_kl_reference_is_the_base_with_adapters_off():
    from rlar_jax.config import load_config
    from rlar_jax.models.lora import reference_params, trainable_filter
    from rlar_jax.policy import build_policy
    from rlar_jax.trainer import make_logprob_fn

    base = build_policy(load_config(TINY).model, None).model
    _, policy = _policy()
    model = policy.model
    _perturb_adapters(model)
    assert trainable_filter(model) is nnx.LoRAParam and trainable_filter(base) is nnx.Param
    graphdef, params, rest = nnx.split(model, nnx.LoRAParam, ...)
    tokens = jnp.asarray(TOKENS)
    batch = {"tokens": tokens, "attn_mask": jnp.ones_like(tokens, bool), "completion_mask": jnp.ones((2, 8), bool)}
    logp = make_logprob_fn(1.0)
    ref = logp(nnx.merge(graphdef, reference_params(params), rest), batch)[0]
    np.testing.assert_allclose(np.asarray(ref), np.asarray(logp(base, batch)[0]), atol=1e-5)
    assert np.abs(np.asarray(logp(model, batch)[0] - ref)).max() > 1e-3


@pytest.mark.parametrize("override, message", [
    ("model.lora.rank=0", "model.lora: rank must be an int >= 1"),
    ("model.lora.rank=-2", "model.lora: rank must be an int >= 1"),
    ("model.lora.targets=[q_proj,qkv]", "model.lora: targets: 'qkv' matches no module"),
    ("model.lora.targets=[]", "targets must name at least one module"),
    ("model.lora.alpha=0", "model.lora: alpha must be > 0"),
])
def test_bad_lora_settings_name_the_setting(override, message):
    from rlar_jax.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(TINY, [override])


def test_targets_accept_peft_names_and_all_linear():
    from rlar_jax.config import load_config
    from rlar_jax.models.lora import adapters, resolve_targets
    from rlar_jax.policy import build_policy

    assert resolve_targets(["q_proj", "v_proj", "wq"]) == ("wq", "wv")
    assert resolve_targets("all-linear") == ("wq", "wk", "wv", "wo", "w_gate", "w_up", "w_down")
    cfg = load_config(TINY, ["model.lora.rank=2", "model.lora.targets=[q_proj,down_proj]"])
    lora = adapters(build_policy(cfg.model, None).model)
    assert {n for n in ("wq", "wk", "wv", "wo", "w_gate", "w_up", "w_down") if hasattr(lora, n)} == {"wq", "w_down"}


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    """A LoRA run directory as the trainer leaves it: config.json and a checkpoint of adapters only."""
    from rlar_jax.checkpoint import Checkpointer
    from rlar_jax.config import to_dict
    from rlar_jax.grpo import init_opt_state
    from rlar_jax.trainer import build_optimizer

    run = tmp_path_factory.mktemp("lora") / "run"
    cfg, policy = _policy([f"trainer.run_dir={run}", "trainer.steps=1"])
    _perturb_adapters(policy.model, scale=0.1)
    params = nnx.state(policy.model, nnx.LoRAParam)
    ckpt = Checkpointer(run / "checkpoints")
    ckpt.save(1, {"params": params, "opt_state": init_opt_state(build_optimizer(cfg), params),
                  "rng": jax.random.key(0)}, {"step": 1})
    ckpt.close()
    (run / "config.json").write_text(json.dumps(to_dict(cfg), indent=2, sort_keys=True))
    return run, _logits(policy.model)


def test_merged_export_loads_in_transformers_with_the_same_logits(lora_run, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from rlar_jax import cli

    run, unmerged = lora_run
    assert cli.main(["models", "export", str(run), str(tmp_path / "plain")]) == 2
    assert "pass --merge-lora" in capsys.readouterr().err
    out = tmp_path / "merged"
    assert cli.main(["models", "export", str(run), str(out), "--merge-lora"]) == 0
    hf = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    with torch.no_grad():
        theirs = hf(torch.as_tensor(TOKENS, dtype=torch.long)).logits.float().numpy()
    np.testing.assert_allclose(theirs, unmerged, atol=1e-4)
    assert not any("lora" in k for k in json.loads((out / "config.json").read_text()))


def test_merge_lora_on_a_full_fine_tune_is_an_error(tmp_path, capsys):
    from rlar_jax import cli
    from rlar_jax.models.export_run import export_run

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"model": {"name": "random"}}))
    with pytest.raises(ValueError, match="trained no LoRA adapters"):
        export_run(run, tmp_path / "out", merge_lora=True)
    with pytest.raises(SystemExit, match="apply to run directories"):
        cli.main(["models", "export", "smollm2-135m-instruct", str(tmp_path / "o"), "--merge-lora"])
