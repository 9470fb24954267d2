"""Reward-model kinds: a kind registered with its loader makes catalog entries of that kind valid and loadable,
with no other edit; bad registrations and unknown kinds are errors naming what was expected."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rlar_jax.rewards import model_kinds
from rlar_jax.rewards.catalog import Catalog, CatalogEntry, evidence_rank
from rlar_jax.rewards.model_kinds import (REWARD_MODEL_KINDS, kind_loader, register_reward_model_kind,
                                          reward_model_kinds, trained_kinds)


class LengthScore:
    """A reward fn scoring min(1, words / `target`) (the target from the entry's source)."""

    def __init__(self, target: int, policy):
        self.target, self.policy = target, policy

    def __call__(self, prompts, responses, references, metas):
        return [min(1.0, len(r.split()) / self.target) for r in responses]


def length_loader(entry, *, policy=None, backbone=None):
    return LengthScore(int(entry.source), policy)


@pytest.fixture
def length_kind():
    register_reward_model_kind("word_length", length_loader, trained=True)
    try:
        yield "word_length"
    finally:
        del REWARD_MODEL_KINDS["word_length"]


def _entry(kind: str = "word_length", **kw) -> CatalogEntry:
    return CatalogEntry(**{"id": "len-4", "kind": kind, "architecture": "none", "source": "4",
                           "tasks": ("dialogue",), **kw})


def test_builtin_kinds_and_their_ranking():
    assert reward_model_kinds() == ("judge", "embedding", "bt_head", "hf_seq_cls")
    assert trained_kinds() == ("bt_head", "hf_seq_cls")
    from rlar_jax.rewards.models import registry

    assert kind_loader("embedding") is registry.load_embedding and kind_loader("bt_head") is registry.load_bt_head


def test_unknown_kind_is_rejected_by_the_catalog_until_registered(tmp_path):
    with pytest.raises(ValueError, match=r"catalog entry 'len-4': kind: expected one of \['judge', 'embedding', "
                                         r"'bt_head', 'hf_seq_cls'\], got 'word_length' \(register more with "
                                         r"rlar_jax\.rewards\.model_kinds\.register_reward_model_kind\)"):
        _entry()
    with pytest.raises(ValueError, match=r"unknown reward-model kind 'word_length'; registered: \['judge'"):
        kind_loader("word_length")


def test_a_registered_kind_is_loadable_from_the_catalog(length_kind, tmp_path):
    from rlar_jax.rewards.models.registry import load_reward_model

    tiny_policy = object()  # passed through to the loader as it is
    catalog = Catalog(entries=[_entry()], registry_dir=tmp_path / "none")
    fn = load_reward_model("len-4", catalog=catalog, policy=tiny_policy)
    assert isinstance(fn, LengthScore) and fn.policy is tiny_policy
    assert fn(["q", "q"], ["one two", "a b c d e f"], ["", ""], [{}, {}]) == [0.5, 1.0]
    # a trained kind ranks before the generic judge at equal (no) evidence
    assert evidence_rank(catalog.get("len-4"), "dialogue")[2] == 0
    assert evidence_rank(Catalog().get("judge-policy"), "helpfulness")[2] == 1


def test_a_registered_kind_loads_from_a_json_registration(length_kind, tmp_path):
    from rlar_jax.rewards.models.registry import load_reward_model

    (tmp_path / "len-8.json").write_text(json.dumps(_entry(id="len-8", source="8").to_dict()))
    catalog = Catalog(entries=(), registry_dir=tmp_path)
    assert [e.id for e in catalog.ranked_for("dialogue")] == ["len-8"]
    assert load_reward_model("len-8", catalog=catalog)(["q"], ["a b"], [""], [{}]) == [0.25]


def test_a_loader_named_by_module_and_function_is_imported_on_first_load(tmp_path):
    from rlar_jax.rewards.models.registry import load_reward_model

    register_reward_model_kind("lazy_length", f"{__name__}:length_loader")
    try:
        assert kind_loader("lazy_length") is length_loader
        fn = load_reward_model(_entry("lazy_length"), catalog=Catalog(entries=(), registry_dir=tmp_path))
        assert fn(["q"], ["a"], [""], [{}]) == [0.25]
    finally:
        del REWARD_MODEL_KINDS["lazy_length"]


def test_decorator_registration_and_bad_registrations(length_kind):
    @register_reward_model_kind("constant_half")
    def half(entry, **_):
        return lambda prompts, responses, references, metas: [0.5] * len(responses)

    try:
        assert reward_model_kinds()[-1] == "constant_half" and kind_loader("constant_half") is half
    finally:
        del REWARD_MODEL_KINDS["constant_half"]
    with pytest.raises(ValueError, match=r"reward-model kind 'word_length' is already registered \(by "
                                         r"length_loader\)"):
        register_reward_model_kind("word_length", length_loader)
    with pytest.raises(TypeError, match=r"loader must be callable or 'module:function', got 'no_colon'"):
        register_reward_model_kind("other_kind", "no_colon")
    with pytest.raises(ValueError, match=r"kind name: expected an identifier, got 'bad kind'"):
        register_reward_model_kind("bad kind", length_loader)
    with pytest.raises(TypeError, match=r"trained must be a bool, got 1"):
        register_reward_model_kind("other_kind", length_loader, trained=1)
    assert "other_kind" not in reward_model_kinds()


def test_building_a_catalog_imports_no_model_stack():
    code = ("import sys; from rlar_jax.rewards.catalog import Catalog; Catalog(); "
            "print(sorted(m for m in ('jax', 'flax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
    assert model_kinds.REWARD_MODEL_KINDS["judge"].loader == "rlar_jax.rewards.models.registry:load_judge"
