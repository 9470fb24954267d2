"""Dataset kinds: a kind registered with its loader is usable from a YAML config (`data.tasks[i].kind`) with
no other edit; unknown kinds and bad registrations are errors naming the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlar_jax.config import ConfigError, load_config
from rlar_jax.datasets.examples import Example
from rlar_jax.datasets import DATASET_KINDS, register_dataset_kind
from rlar_jax.datasets.kinds import dataset_kind
from rlar_jax.datasets.mixture import load_split

BUILTIN = ["gsm8k", "math", "mbpp", "humaneval", "wmt", "hh", "llmbar", "constraints", "jsonl"]


def load_lines(src, path, *, split, system_prompt, limit, task, errors):
    """One prompt per non-empty line of a text file; the line number is the uid."""
    lines = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]
    system = ({"role": "system", "content": system_prompt},) if system_prompt else ()
    return [Example((*system, {"role": "user", "content": ln}), "", task, {"split": split}, f"{path}:{i}")
            for i, ln in enumerate(lines[:limit] if limit is not None else lines)]


@pytest.fixture
def lines_kind():
    register_dataset_kind("lines", load_lines)
    try:
        yield "lines"
    finally:
        del DATASET_KINDS["lines"]


def _config(tmp_path: Path, kind: str, n: int = 7) -> Path:
    (tmp_path / "prompts.txt").write_text("".join(f"prompt {i}\n\n" for i in range(n)))
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"data:\n  eval_size: 2\n  system_prompt: Be brief.\n  tasks:\n"
                   f"    - {{kind: {kind}, name: chat, path: prompts.txt, weight: 1.0}}\n")
    return cfg


def test_the_builtin_kinds_are_registered_in_order():
    assert list(DATASET_KINDS) == BUILTIN
    assert [k for k, v in DATASET_KINDS.items() if v.own_split] == ["mbpp"]


def test_an_unregistered_kind_fails_the_config_naming_the_key(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(_config(tmp_path, "lines"))
    listed = " | ".join(map(repr, BUILTIN))
    assert str(e.value) == (f"data.tasks[0].kind: expected one of {listed}, got 'lines' (register more with "
                            f"rlar_jax.datasets.kinds.register_dataset_kind)")


def test_a_registered_kind_is_usable_from_a_yaml_config(lines_kind, tmp_path):
    cfg = load_config(_config(tmp_path, "lines"))
    task = cfg.data.tasks[0]
    assert (task.kind, task.task, task.path) == ("lines", "chat", str(tmp_path / "prompts.txt"))
    held_out, report = load_split(cfg.data, "eval")
    train, _ = load_split(cfg.data, "train")
    # the mixture holds out the first eval_size examples and trains on the rest
    assert [e.query for e in held_out] == ["prompt 0", "prompt 1"] and report.loaded == {"chat": 2}
    assert sorted(e.query for e in train) == [f"prompt {i}" for i in range(2, 7)]
    assert all(e.task == "chat" and e.messages[0] == {"role": "system", "content": "Be brief."}
               and e.meta == {"split": None} for e in held_out + train)


def test_a_kind_with_its_own_split_gets_train_and_test(tmp_path):
    @register_dataset_kind("split_lines", own_split=True)
    def split_lines(src, path, *, split, limit, **common):
        rows = load_lines(src, path, split=split, limit=None, **common)
        return [e for i, e in enumerate(rows) if (i % 2 == 0) == (split == "test")][:limit]

    try:
        cfg = load_config(_config(tmp_path, "split_lines"))
        held_out, _ = load_split(cfg.data, "eval")
        train, _ = load_split(cfg.data, "train")
        assert [e.query for e in held_out] == ["prompt 0", "prompt 2"]  # eval_size caps the test split
        assert sorted(e.query for e in train) == ["prompt 1", "prompt 3", "prompt 5"]
        assert {e.meta["split"] for e in held_out} == {"test"} and {e.meta["split"] for e in train} == {"train"}
    finally:
        del DATASET_KINDS["split_lines"]


def test_bad_registrations_and_unknown_kinds(lines_kind):
    with pytest.raises(ValueError, match=r"dataset kind 'lines' is already registered \(by load_lines\)"):
        register_dataset_kind("lines", load_lines)
    with pytest.raises(TypeError, match=r"register_dataset_kind\('txt'\): loader must be callable, got 'load_lines'"):
        register_dataset_kind("txt", "load_lines")
    with pytest.raises(ValueError, match=r"dataset kind name: expected an identifier, got 'two words'"):
        register_dataset_kind("two words", load_lines)
    with pytest.raises(TypeError, match=r"own_split must be a bool, got 'yes'"):
        register_dataset_kind("txt", load_lines, own_split="yes")
    assert "txt" not in DATASET_KINDS
    with pytest.raises(ValueError, match=r"^task 'notes': unknown dataset kind 'txt'; registered: "
                                         r"\['gsm8k', .*'lines'\]"):
        dataset_kind("txt", "notes")
