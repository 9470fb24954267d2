"""A model's shapes without its weights: the `ModelConfig` a checkpoint would load with.

Sources, in order: an explicit config file (`config.json`, a `.gguf` file or a checkpoint directory),
"random" (the config's `model.random_config`), a local path, a known name (the GGUF's metadata, if it
is installed or cached), and for Hugging Face hub ids the `config.json` in the local Hugging Face
cache, else a shipped preset (`presets/`, see its SOURCES.md). Nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rlar_jax.models.config import ModelConfig

PRESET_DIR = Path(__file__).resolve().parent / "presets"


def preset_names() -> list[str]:
    """Hub ids with a shipped config.json."""
    return sorted(p.stem.replace("--", "/", 1) for p in PRESET_DIR.glob("*.json"))


def _from_file(path: Path, overrides: dict[str, Any]) -> ModelConfig:
    """ModelConfig from a config.json, a .gguf file (its metadata only) or a directory holding either."""
    if path.is_dir():
        if (path / "config.json").is_file():
            path = path / "config.json"
        else:
            ggufs = sorted(path.glob("*.gguf"))
            if len(ggufs) != 1:
                raise FileNotFoundError(f"{path}: expected a config.json or one .gguf file")
            path = ggufs[0]
    if not path.is_file():
        raise FileNotFoundError(f"model config not found: {path}")
    if path.suffix == ".gguf":
        import gguf

        from rlar_jax.models.gguf_io import config_from_gguf

        return config_from_gguf(gguf.GGUFReader(path), str(path), **overrides)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not a JSON config ({e})") from e
    return ModelConfig.from_hf_dict(data, source=str(path), **overrides)


def _hub_cached_config(repo_id: str) -> Path | None:
    """config.json of `repo_id` in the local Hugging Face cache, if it is there."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(repo_id, "config.json")
    return Path(found) if isinstance(found, str) else None


def model_shapes(name: str, *, dtype: str = "float32", param_dtype: str = "float32", remat: bool = False,
                 frozen_layers: int = 0, random_config: dict[str, Any] | None = None, config_path: str | Path | None = None
                 ) -> tuple[ModelConfig, str]:
    """(ModelConfig, where its shapes came from) for `model.name` = `name`, without reading weights.

    `config_path` (a config.json, .gguf or checkpoint directory) wins over the name. An unknown model
    with no config raises FileNotFoundError naming model.name and the ways to give one.
    """
    from rlar_jax.models import sources

    overrides = {"dtype": dtype, "param_dtype": param_dtype, "remat": remat, "frozen_layers": frozen_layers}
    if config_path is not None:
        path = Path(config_path).expanduser()
        return _from_file(path, overrides), str(path)
    if name == "random":
        from rlar_jax.models.byte_tokenizer import byte_level_tokenizer

        vocab = byte_level_tokenizer().vocab_size
        hf = {"model_type": "llama", "vocab_size": vocab, **(random_config or {})}
        return ModelConfig.from_hf_dict(hf, source="model.random_config", **overrides), "model.random_config"
    path = Path(name).expanduser()
    if path.exists():
        return _from_file(path, overrides), str(path)
    if name in sources.REGISTRY:
        found = sources.cached_file(name) or sources.installed_file(sources.REGISTRY[name])
        if found is None:
            raise FileNotFoundError(f"model.name {name!r}: not installed or pulled; run `rlar-jax models pull "
                                    f"{name}` or pass --model-config")
        return _from_file(found, overrides), str(found)
    if "/" in name and not name.startswith((".", "/")):
        cached = _hub_cached_config(name)
        if cached is not None:
            return _from_file(cached, overrides), str(cached)
        preset = PRESET_DIR / (name.replace("/", "--", 1) + ".json")
        if preset.is_file():
            return _from_file(preset, overrides), f"preset {preset.name} (the hub's config.json of {name})"
    raise FileNotFoundError(f"model.name {name!r}: no config.json found (not a local path, known model, cached "
                            f"hub checkpoint or preset {preset_names()}); pass --model-config path/to/config.json")
