"""Reward models chosen by evidence: accuracy on validation pairs, ranking, and what the planner may pick."""

from __future__ import annotations

import gzip
import json
import math

import pytest

from rlar_jax.rewards.catalog import BUILTIN_ENTRIES, Catalog, CatalogEntry
from rlar_jax.rewards.evidence import (evidence_table, load_validation, measure_entry, pair_credit,
                                       pairwise_accuracy, register_measured)
from rlar_jax.rewards.planner import OfflinePlanner

NAN = math.nan
DIALOGUE = ["How can I get better at making friends as an adult?", "Can you give me some tips for a job interview?",
            "\n\nHuman: My neighbor's dog barks all night. What should I do?\n\nAssistant:",
            "Explain why the sky is blue to a five-year-old.", "Write a short story about a lighthouse keeper."]
INSTRUCTION = ["Describe your ideal weekend in at most 50 words.",
               "List three benefits of exercise. Use exactly 3 bullet points.",
               "Write a limerick about a cat, all in lowercase letters."]


def entry(eid: str, kind: str = "bt_head", tasks=("dialogue",), **evidence: float) -> CatalogEntry:
    return CatalogEntry(id=eid, kind=kind, architecture="llama", source=f"/models/{eid}", tasks=tasks,
                        evidence=dict(evidence))


def longer(prompts, responses, references, metas):
    """A scorer preferring longer replies (NaN for an empty one)."""
    return [NAN if not r else min(1.0, len(r) / 100) for r in responses]


def test_pair_credit_and_accuracy():
    assert [pair_credit(*p) for p in [(0.9, 0.1), (0.1, 0.9), (0.4, 0.4), (NAN, 0.2), (0.2, NAN), (NAN, NAN)]] == [
        1.0, 0.0, 0.5, 0.0, 1.0, 0.0]
    pairs = [("q", "a long chosen reply", "short"), ("q", "short", "a long rejected reply"),
             ("q", "same", "same"), ("q", "", "x")]
    assert pairwise_accuracy(longer, pairs, batch=3) == pytest.approx((1 + 0 + 0.5 + 0) / 4)
    with pytest.raises(ValueError, match="at least one"):
        pairwise_accuracy(longer, [])
    with pytest.raises(ValueError, match="returned 1 scores for 2 rows"):
        pairwise_accuracy(lambda p, r, ref, m: [0.5], [("q", "a", "b")])


def test_measure_entry_records_accuracy_or_no_evidence():
    good = [("q", "a long chosen reply", "no")] * 3 + [("q", "no", "a long rejected reply")]
    e = entry("m", tasks=("dialogue", "instruction", "harmlessness"), harmlessness=0.9)
    measured = measure_entry(e, longer, splits={"dialogue": good, "instruction": []})
    assert measured.evidence == {"dialogue": 0.75}  # the stale harmlessness number is gone: its split is missing
    assert measured.evidence_notes == {"dialogue": "4 pairs of the given validation pairs",
                                       "instruction": "no evidence: validation split empty",
                                       "harmlessness": "no evidence: validation split missing"}
    assert measured.evidence_text("dialogue") == "0.750 (4 pairs of the given validation pairs)"
    assert measured.evidence_text("instruction") == "no evidence: validation split empty"
    assert measure_entry(e, longer, splits={"dialogue": good}, limit=3).evidence["dialogue"] == 1.0
    with pytest.raises(ValueError, match="limit: expected >= 1"):
        measure_entry(e, longer, splits={}, limit=0)


def test_missing_or_empty_validation_data_is_no_evidence(tmp_path):
    pairs, why = load_validation("dialogue", tmp_path)  # no hh_rlhf_harmless/ here
    assert pairs is None and why.startswith("no evidence: validation split unavailable") and "test.jsonl.gz" in why
    (tmp_path / "hh_rlhf_harmless").mkdir()
    with gzip.open(tmp_path / "hh_rlhf_harmless" / "test.jsonl.gz", "wt") as fh:
        fh.write("\n")
    pairs, why = load_validation("dialogue", tmp_path)
    assert pairs is None and why.startswith("no evidence: the hh validation split") and why.endswith("is empty")
    assert load_validation("code", tmp_path) == (None, "no evidence: no validation split for 'code'")
    measured = measure_entry(entry("m", tasks=("dialogue", "code")), longer, data_dir=tmp_path)
    assert measured.evidence == {} and set(measured.evidence_notes) == {"dialogue", "code"}


def test_bundled_validation_splits_measure_a_scorer():
    pairs, why = load_validation("dialogue")
    assert len(pairs) == 400 and why == "hh validation split"
    instruction, _ = load_validation("instruction")
    assert 100 <= len(instruction) <= 110  # every third LLMBar pair
    acc = pairwise_accuracy(longer, pairs)
    assert 0.0 < acc < 1.0  # a real measurement, not a constant


def test_ranking_prefers_measured_models_and_drops_below_chance():
    cat = Catalog(entries=[entry("a-head", dialogue=0.62), entry("b-judge", kind="judge", dialogue=0.7),
                           entry("c-head"), entry("d-judge", kind="judge"), entry("e-head", dialogue=0.45),
                           entry("f-head", dialogue=0.5)], registry_dir="/nonexistent")
    assert [e.id for e in cat.ranked_for("dialogue")] == ["b-judge", "a-head", "c-head", "d-judge"]
    assert cat.best_for("dialogue").id == "b-judge"
    assert [e.id for e in cat.search("", task="dialogue")] == ["b-judge", "a-head", "c-head", "d-judge"]
    assert cat.best_for("instruction") is None


def test_below_chance_model_is_never_planned_for_that_family():
    bad = entry("mixed-head", tasks=("dialogue", "instruction"), dialogue=0.35, instruction=0.8)
    judge = entry("judge-policy", kind="judge", tasks=("dialogue", "instruction"), dialogue=0.3, instruction=0.5)
    planner = OfflinePlanner(Catalog(entries=[bad, judge], registry_dir="/nonexistent"))
    for q in DIALOGUE:
        plan = planner.plan(q, None, None)
        assert plan.task_family == "dialogue"
        assert not {c.id for c in plan.components} & {"mixed-head", "judge-policy"}
    for q in INSTRUCTION:
        plan = planner.plan(q, None, None)
        assert plan.task_family == "instruction"
        assert [c.id for c in plan.components] == ["format_constraints", "mixed-head"]  # usable there: 0.8
    # the zero-variance replan never adds it for dialogue either
    from rlar_jax.rewards.library import Evidence

    plan = planner.plan(INSTRUCTION[0], None, None)
    dial = plan.with_(task_family="dialogue")
    replanned = planner.replan(dial, Evidence(dial.task_signature, dial.plan_id, "zero_variance", None, {}))
    assert [c.id for c in replanned.components] == [c.id for c in plan.components]


def test_unmeasured_model_is_not_preferred_and_never_crashes_the_planner(isolated_home):
    reg = isolated_home / "reward_models"
    measured = entry("measured-head", dialogue=0.6)
    cat = Catalog(entries=[measured], registry_dir=reg)
    # registered from a missing and an empty validation split: "no evidence", persisted with the reason
    e1 = register_measured(cat, entry("nodata-head", tasks=("dialogue", "instruction")), longer, persist=True,
                           splits={"instruction": []})
    assert e1.evidence == {} and e1.evidence_text("dialogue") == "no evidence: validation split missing"
    (reg / "broken.json").write_text(json.dumps({"id": "x", "kind": "bt_head", "architecture": "llama",
                                                 "source": "s", "evidence": {"dialogue": "high"}}))
    reloaded = Catalog(entries=[measured], registry_dir=reg)
    assert reloaded.get("nodata-head").evidence_notes == e1.evidence_notes and not reloaded.knows("x")
    planner = OfflinePlanner(reloaded)
    for q in DIALOGUE:
        assert [c.id for c in planner.plan(q, None, None).components] == ["measured-head"]
    for q in INSTRUCTION:  # no measured model for instruction: the unmeasured one is still usable
        assert [c.id for c in planner.plan(q, None, None).components] == ["format_constraints", "nodata-head"]
    table = evidence_table(reloaded)
    assert "measured-head                dialogue       0.600" in table
    assert "nodata-head                  instruction    no evidence: validation split empty" in table


def test_builtin_catalog_prefers_the_shipped_head_for_dialogue():
    ids = {e.id for e in BUILTIN_ENTRIES}
    head = next(e for e in BUILTIN_ENTRIES if e.kind == "bt_head")
    assert {"minilm-embed-sim", "judge-policy", head.id} <= ids
    assert head.evidence["dialogue"] > 0.5 and "validation split" in head.evidence_notes["dialogue"]
    judge = next(e for e in BUILTIN_ENTRIES if e.id == "judge-policy")
    assert not judge.usable_for("instruction") and not judge.usable_for("dialogue")
    cat = Catalog()
    assert cat.best_for("dialogue").id == head.id
    assert [c.id for c in OfflinePlanner(cat).plan(DIALOGUE[0], None, None).components] == [head.id]


def test_rm_evidence_command_records_and_rejects_bad_input(isolated_home, capsys):
    import argparse

    from rlar_jax.rewards.models.cli import register

    parser = argparse.ArgumentParser(prog="rlar-jax")
    register(parser.add_subparsers(dest="command", required=True))
    for argv, message in [(["rm-evidence", "no-such-model"], r"unknown reward model\(s\) \['no-such-model'\]"),
                          (["rm-evidence", "judge-policy", "--limit", "0"], "--limit: expected >= 1"),
                          (["train-rm", "--preset", "hh-harmless", "--name", "x"], "--preset: builds a fixed head"),
                          (["train-rm", "--name", "x"], "--data and --name are required")]:
        args = parser.parse_args(argv)
        with pytest.raises(SystemExit, match=message):
            args.func(args)
    # MiniLM similarity needs a reference, which preference pairs do not have: every reply is unscored, so
    # it measures 0 on dialogue and is never planned there; its other families have no validation split.
    args = parser.parse_args(["rm-evidence", "minilm-embed-sim", "--limit", "4"])
    assert args.func(args) == 0
    entry = Catalog().get("minilm-embed-sim")  # the measurement was persisted to the registry
    assert entry.evidence == {"dialogue": 0.0}
    assert entry.evidence_notes["translation"] == "no evidence: no validation split for 'translation'"
    out = capsys.readouterr().out
    assert "minilm-embed-sim             dialogue       0.000 (4 pairs of the hh validation split)" in out
    assert "minilm-embed-sim" not in [e.id for e in Catalog().ranked_for("dialogue")]
