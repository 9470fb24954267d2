"""The trained policy of a run as a Hugging Face checkpoint: `rlar-jax models export RUN_DIR OUT`.

A run directory (`trainer.run_dir`), its `checkpoints/` folder or one step's folder (`checkpoints/<step>`)
is restored into the policy its experiment config describes (the run's `config.json`, or the YAML given
with `--config`) and written by `export_hf`: `config.json`, `model.safetensors`, `generation_config.json`
and the tokenizer with its chat template (ChatML when the model has none, the template our sampler
uses), which `transformers.AutoModelForCausalLM` / `AutoTokenizer.from_pretrained` load as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def is_run_path(path: str | Path) -> bool:
    """True for a run directory with `checkpoints/`, a `checkpoints/` folder, or one checkpoint step."""
    p = Path(path)
    if not p.is_dir():
        return False
    if (p / "checkpoints").is_dir():
        return True
    if p.name.isdigit() and (p / "state").exists():
        return True
    return p.name == "checkpoints" and any(c.name.isdigit() for c in p.iterdir())


def run_config_file(path: str | Path) -> Path | None:
    """The experiment `config.json` the trainer wrote beside `checkpoints/` (None when there is none)."""
    p = Path(path).resolve()
    for d in (p, p.parent, p.parent.parent):
        f = d / "config.json"
        if f.is_file() and (d / "checkpoints").is_dir():
            return f
    return None


def experiment_config(path: str | Path, config: str | Path | None = None,
                      overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """The ExperimentConfig of a run: from `config` (a YAML file) when given, else the run's config.json."""
    from rlar_jax.config import ExperimentConfig, ModelSection, OptimSection, TrainerSection, build, load_config

    if config is not None:
        return load_config(config, list(overrides))
    found = run_config_file(path)
    if found is None:
        raise FileNotFoundError(f"{path}: no config.json beside its checkpoints (the trainer writes it when a run "
                                "ends); pass the training config with --config")
    d = json.loads(found.read_text())
    # Only what rebuilds the policy and the optimizer state's structure; other sections may come from an
    # older or newer version of the schema.
    trainer = d.get("trainer", {})
    return ExperimentConfig(model=build(ModelSection, d.get("model"), "model"),
                            optim=build(OptimSection, d.get("optim"), "optim"),
                            trainer=TrainerSection(steps=int(trainer.get("steps", 1))))


def export_run(path: str | Path, out_dir: str | Path, *, config: str | Path | None = None,
               overrides: list[str] | tuple[str, ...] = (), dtype: str | None = None,
               merge_lora: bool = False) -> tuple[Path, int]:
    """Write the policy of a run's latest checkpoint (or of the given step's folder) to `out_dir` as an HF
    safetensors directory; returns (out_dir, restored step). `dtype` overrides the run's model.param_dtype
    (the dtype of the written tensors). A LoRA run needs `merge_lora`: its adapters are folded into the
    weights (W + alpha/r * A @ B), so the output is a plain checkpoint that transformers and vLLM load."""
    import dataclasses

    from rlar_jax.evaluate import restore_params
    from rlar_jax.models.lora import merged_model
    from rlar_jax.models.safetensors_io import export_hf
    from rlar_jax.models.tokenizer import CHATML_TEMPLATE
    from rlar_jax.policy import build_policy

    if not is_run_path(path):
        raise FileNotFoundError(f"{path}: not a run directory (with checkpoints/), a checkpoints/ folder or a "
                                "checkpoint step")
    cfg = experiment_config(path, config, overrides)
    if dtype is not None:
        cfg.model = dataclasses.replace(cfg.model, param_dtype=dtype)
    if merge_lora and not cfg.model.lora.enabled:
        raise ValueError(f"{path}: --merge-lora, but the run trained no LoRA adapters (model.lora.rank is unset)")
    if cfg.model.lora.enabled and not merge_lora:
        raise ValueError(f"{path}: the run trained LoRA adapters (model.lora.rank={cfg.model.lora.rank}); pass "
                         "--merge-lora to write the merged weights")
    policy = build_policy(cfg.model, None)
    step = restore_params(policy, cfg, path)
    tokenizer = policy.tokenizer
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE  # what apply_chat_template renders for it
    out = export_hf(merged_model(policy.model), policy.config, tokenizer, out_dir)
    return out, step
