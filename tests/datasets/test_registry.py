"""The dataset registry: bundled files, config paths (registry names, relative files, named errors), `rlar-jax data`."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from rlar_jax.config import ConfigError, load_config
from rlar_jax.datasets.examples import DataError
from rlar_jax.datasets.problems import load_gsm8k
from rlar_jax.datasets.readers import read_text, resolve_path
from rlar_jax.datasets import load_llmbar, load_wmt, registry

ROOT = Path(__file__).resolve().parents[2]
CORE = ("gsm8k", "math500", "mbpp", "hh_rlhf_harmless", "llmbar", "wmt22")


def test_every_core_set_is_bundled_and_readable():
    rows = {r["name"]: r for r in registry.list_datasets()}
    for name in CORE:
        entry = registry.get(name)
        assert entry.bundled and rows[name]["source"] == "bundled" and rows[name]["size"] > 0
        for split, path in entry.files().items():
            assert path.is_file() and path.suffix == ".gz", (name, split)
            assert path.is_relative_to(registry.BUNDLED_DIR)
    assert registry.get("openai/gsm8k").hub_config == "main" and registry.get("gsm8k").full == "openai/gsm8k"
    assert {"ifgen", "arith"} <= set(rows)  # registered; their files may or may not be present
    total = sum(p.stat().st_size for p in registry.BUNDLED_DIR.rglob("*") if p.is_file())
    assert total < 8 * 2**20  # a few MB
    text = (registry.BUNDLED_DIR / "SOURCES.md").read_text()
    assert all(name in text for name in CORE) and "MIT" in text and "CC-BY-4.0" in text


def test_bundled_copies_read_like_the_originals():
    assert load_gsm8k(registry.bundled_file("gsm8k", "train"), limit=1)[0].query.startswith("Natalia")
    assert len(load_gsm8k(registry.bundled_file("gsm8k", "test"))) == 1000
    wmt = load_wmt(registry.bundled_file("wmt22", "en-zh"), limit=2)  # reference .gz found beside the source
    assert wmt[0].meta["language_pair"] == "en-zh" and wmt[0].reference
    raw = json.loads(read_text(registry.bundled_file("llmbar", "gptinst")))
    assert len(load_llmbar(registry.bundled_file("llmbar", "gptinst"))) == len(raw) == 92


def test_registry_names_resolve_and_errors_list_what_exists():
    assert resolve_path("gsm8k:test") == str(registry.BUNDLED_DIR / "gsm8k" / "test.jsonl.gz")
    assert resolve_path("mbpp") == str(registry.BUNDLED_DIR / "mbpp" / "mbpp.jsonl.gz")  # one split: no suffix
    assert resolve_path("openai/gsm8k:train") == "openai/gsm8k:train"  # hub names pass through
    assert resolve_path("someone/some-set") == "someone/some-set"
    with pytest.raises(DataError, match=r"dataset 'gsm8k' has no split 'dev'; splits: train, test"):
        resolve_path("gsm8k:dev")
    with pytest.raises(DataError, match=r"has splits train, test; name one, e.g. gsm8k:train"):
        resolve_path("gsm8k")
    with pytest.raises(registry.DatasetError, match=r"unknown dataset 'nosuch'; known: .*gsm8k.*wmt22"):
        registry.get("nosuch")
    assert registry.is_hub_name("openai/gsm8k") and registry.is_hub_name("Anthropic/hh-rlhf:test")
    for local in ("data/train.jsonl", "wmt22/generaltest2022.en-de.src.en", "./a/b", "x/y.json.gz"):
        assert not registry.is_hub_name(local), local


def test_config_paths_resolve_against_the_config_dir_and_name_the_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None)  # the defaults are the bundled GSM8K copy
    assert (cfg.data.train_path, cfg.data.eval_path) == ("gsm8k:train", "gsm8k:test")
    exp = tmp_path / "exp"
    (exp / "data").mkdir(parents=True)
    rows = exp / "data" / "mine.jsonl.gz"
    with gzip.open(rows, "wt") as f:
        f.write(json.dumps({"question": "1+1?", "answer": "#### 2"}) + "\n")
    (exp / "c.yaml").write_text("data:\n  train_path: data/mine.jsonl.gz\n  tasks:\n"
                                "    - {kind: gsm8k, name: a, path: data/mine.jsonl.gz}\n"
                                "    - {kind: gsm8k, name: b, path: data/missing.jsonl}\n")
    with pytest.raises(ConfigError, match=r"^data.tasks\[1\].path: data file not found: data/missing.jsonl"):
        load_config(exp / "c.yaml")
    cfg = load_config(exp / "c.yaml", ["data.tasks=[{kind: gsm8k, path: data/mine.jsonl.gz}]"])
    assert cfg.data.train_path == cfg.data.tasks[0].path == str(rows)  # relative to the config file
    with pytest.raises(ConfigError, match=r"^data.eval_path: dataset 'gsm8k' has no split 'validation'"):
        load_config(None, ["data.eval_path=gsm8k:validation"])
    with pytest.raises(ConfigError, match=r"^data.train_path: 'gsmk:train' is neither a data file nor a known"):
        load_config(None, ["data.train_path=gsmk:train"])
    with pytest.raises(ConfigError, match=r"^data.tasks\[0\].reference_path: data file not found"):
        load_config(None, ["data.tasks=[{kind: wmt, path: wmt22:en-de, reference_path: /nope/ref.de}]"])
    # a file found under the working directory (overrides on the command line)
    monkeypatch.chdir(exp)
    assert load_config(None, ["data.train_path=data/mine.jsonl.gz"]).data.train_path == str(rows)


def test_shipped_configs_use_only_bundled_or_hub_data():
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        cfg = load_config(path)
        values = [cfg.data.train_path, cfg.data.eval_path]
        values += [v for t in cfg.data.tasks for v in (t.path, t.train_path, t.eval_path, t.reference_path) if v]
        for v in values:
            assert registry.parse_spec(v) is not None or Path(v).resolve().is_relative_to(ROOT), (path.name, v)


def test_data_cli_list_and_pull(capsys, monkeypatch, tmp_path):
    from rlar_jax import cli

    assert cli.main(["data", "list"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "bundled" in lines["gsm8k"] and "train,test" in lines["gsm8k"] and "MiB" in lines["gsm8k"]
    assert "hub:openai/gsm8k (main)" in lines["openai/gsm8k"]
    assert cli.main(["data", "pull", "wmt22:en-de"]) == 0
    assert capsys.readouterr().out.split() == ["wmt22:en-de", str(registry.bundled_file("wmt22", "en-de"))]
    with pytest.raises(SystemExit, match=r"unknown dataset 'nosuch'; known: .*gsm8k.*mbpp"):
        cli.main(["data", "pull", "nosuch"])
    # a hub set, offline and not cached: what was asked for, why it failed, and what to do instead
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    with pytest.raises(SystemExit) as e:
        cli.main(["data", "pull", "openai/gsm8k:test"])
    msg = str(e.value)
    assert "openai/gsm8k, config main, split test" in msg and "cannot be reached" in msg
    assert "data.train_path" in msg and "rlar-jax data pull gsm8k" in msg
