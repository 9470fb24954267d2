"""`rlar-jax models export RUN_DIR OUT`: a trained tiny run's policy, loaded by transformers as it is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
import torch
import transformers

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "tiny.yaml"
TOKENS = np.random.default_rng(5).integers(0, 259, size=(2, 24)).astype(np.int32)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory as the trainer leaves it: config.json and checkpoints of steps 1 and 2 (the tiny
    config's policy with its parameters moved by noise, and an optimizer state of the trainer's shape)."""
    import jax
    from flax import nnx

    from rlar_jax.checkpoint import Checkpointer
    from rlar_jax.config import load_config, to_dict
    from rlar_jax.grpo import init_opt_state, make_optimizer
    from rlar_jax.policy import build_policy

    run = tmp_path_factory.mktemp("export") / "run"
    cfg = load_config(TINY, [f"trainer.run_dir={run}", "trainer.steps=2"])
    policy = build_policy(cfg.model, None)
    o = cfg.optim
    tx = make_optimizer(o.learning_rate, o.warmup_steps, cfg.trainer.steps, o.weight_decay, o.b1, o.b2,
                        o.max_grad_norm)
    ckpt = Checkpointer(run / "checkpoints", keep=2)
    key = jax.random.key(1)
    for step in (1, 2):
        _, params, _ = nnx.split(policy.model, nnx.Param, ...)
        leaves, treedef = jax.tree.flatten(params)
        keys = jax.random.split(jax.random.fold_in(key, step), len(leaves))
        params = jax.tree.unflatten(treedef, [x + 0.05 * jax.random.normal(k, x.shape, x.dtype)
                                              for x, k in zip(leaves, keys)])
        nnx.update(policy.model, params)
        ckpt.save(step, {"params": params, "opt_state": init_opt_state(tx, params), "rng": key}, {"step": step})
    ckpt.close()
    (run / "config.json").write_text(json.dumps(to_dict(cfg), indent=2, sort_keys=True))
    return run


def _ours(run: Path, checkpoint: Path) -> tuple[np.ndarray, object]:
    from rlar_jax.evaluate import restore_params
    from rlar_jax.models.export_run import experiment_config
    from rlar_jax.policy import build_policy

    cfg = experiment_config(run)
    policy = build_policy(cfg.model, None)
    restore_params(policy, cfg, checkpoint)
    return np.asarray(policy.model(jnp.asarray(TOKENS))[0], np.float32), policy.tokenizer


def _hf(out: Path) -> np.ndarray:
    model = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(torch.as_tensor(TOKENS, dtype=torch.long)).logits.float().numpy()


def test_exported_run_matches_the_restored_checkpoint(run_dir, tmp_path, capsys):
    from rlar_jax import cli

    out = tmp_path / "hf"
    assert cli.main(["models", "export", str(run_dir), str(out)]) == 0
    assert "(step 2)" in capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names
    ours, tokenizer = _ours(run_dir, run_dir)
    theirs = _hf(out)
    assert np.abs(ours - theirs).max() < 1e-4
    # the tokenizer and chat template load with transformers and agree with ours
    hf_tok = transformers.AutoTokenizer.from_pretrained(out)
    text = "Natalia sold 48 clips. <|im_end|> ü"
    assert hf_tok.encode(text, add_special_tokens=False) == tokenizer.encode(text)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]
    assert hf_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == \
        tokenizer.apply_chat_template(messages)
    assert hf_tok.eos_token == "<|im_end|>"


def test_export_of_one_step_and_from_the_training_yaml(run_dir, tmp_path, capsys):
    from rlar_jax import cli

    step1 = run_dir / "checkpoints" / "1"
    out = tmp_path / "step1"
    assert cli.main(["models", "export", str(step1), str(out)]) == 0
    assert "(step 1)" in capsys.readouterr().out
    ours1, _ = _ours(run_dir, step1)
    assert np.abs(ours1 - _hf(out)).max() < 1e-4
    ours2, _ = _ours(run_dir, run_dir)
    assert np.abs(ours1 - ours2).max() > 1e-6  # step 2 is a different policy

    # a run without config.json (killed before it ended) exports with the YAML it was trained with
    bare = tmp_path / "bare"
    shutil.copytree(run_dir / "checkpoints", bare / "checkpoints")
    capsys.readouterr()
    assert cli.main(["models", "export", str(bare), str(tmp_path / "x")]) == 2  # one `error:` line, exit 2
    assert "pass the training config with --config" in capsys.readouterr().err
    assert cli.main(["models", "export", str(bare), str(tmp_path / "y"), "--config", str(TINY)]) == 0
    assert np.abs(ours2 - _hf(tmp_path / "y")).max() < 1e-4
    with pytest.raises(SystemExit, match="apply to run directories"):
        cli.main(["models", "export", str(tmp_path / "hf-missing"), str(tmp_path / "z"), "--config", str(TINY)])
    cfg = json.loads((tmp_path / "y" / "config.json").read_text())
    assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["vocab_size"] == 259
