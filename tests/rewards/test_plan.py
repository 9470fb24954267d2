"""RewardPlan: JSON round trip, content ids, validation errors naming the field, score combination."""

from __future__ import annotations

import json
import math
import re

import pytest

from rlar_jax.rewards.plan import (
    Component,
    PlanError,
    RewardPlan,
    constraints_to_meta,
    extract_constraints,
    normalise_score,
)


def make_plan(**kw) -> RewardPlan:
    base = dict(task_signature="translation:en-de", task_family="translation",
                components=(Component("verifier", "translation_chrf", 1.0),
                            Component("reward_model", "minilm-embed-sim", 0.5,
                                      normalise={"type": "minmax", "min": -1.0, "max": 1.0})),
                rationale="chrF plus meaning", created_by="planner", version=2, meta={"lang_pair": "en-de"})
    base.update(kw)
    return RewardPlan(**base)


def test_json_round_trip_and_plan_id():
    plan = make_plan()
    text = plan.to_json()
    data = json.loads(text)
    assert data["plan_id"] == plan.plan_id and len(plan.plan_id) == 16
    assert data["components"][1] == {"kind": "reward_model", "id": "minilm-embed-sim", "weight": 0.5,
                                     "normalise": {"type": "minmax", "min": -1.0, "max": 1.0}}
    back = RewardPlan.from_json(text)
    assert back == plan and back.plan_id == plan.plan_id
    # the id follows content (components, version) but not the prose rationale
    assert make_plan(rationale="other words").plan_id == plan.plan_id
    assert make_plan(version=3).plan_id != plan.plan_id
    assert make_plan(components=plan.components[:1]).plan_id != plan.plan_id


def test_validation_errors_name_fields():
    bad = {"task_signature": "", "task_family": "poetry", "created_by": "oracle", "version": 0,
           "components": [{"kind": "scorer", "id": "x", "weight": 1},
                          {"kind": "verifier", "id": "", "weight": -1.0},
                          {"kind": "verifier", "id": "exact_match", "weight": 1, "normalise": {"type": "minmax",
                                                                                             "min": 1, "max": 0}},
                          "not an object"],
           "colour": "blue"}
    with pytest.raises(PlanError) as exc:
        RewardPlan.from_dict(bad)
    errs = exc.value.errors
    for field in ("colour: unknown field", "task_signature: expected a non-empty string",
                  "task_family: expected one of", "created_by: expected one of", "version: expected an integer >= 1",
                  "components[0].kind: expected one of ['verifier', 'reward_model'], got 'scorer'",
                  "components[1].id: expected a non-empty string", "components[1].weight: expected a finite number > 0",
                  "components[2].normalise.max: expected > min", "components[3]: expected an object"):
        assert any(e.startswith(field) for e in errs), (field, errs)
    with pytest.raises(PlanError, match=r"components: expected at least one component"):
        make_plan(components=()).validate()
    with pytest.raises(PlanError, match=r"components\[1\].id: duplicate component verifier:a"):
        make_plan(components=(Component("verifier", "a"), Component("verifier", "a"))).validate()
    with pytest.raises(PlanError, match="plan: not valid JSON"):
        RewardPlan.from_json("{")
    tampered = json.loads(make_plan().to_json())
    tampered["components"][0]["weight"] = 3.0
    with pytest.raises(PlanError, match="plan_id: .* does not match the content hash"):
        RewardPlan.from_dict(tampered)


def test_resolver_checks_ids():
    known = {("verifier", "translation_chrf")}
    resolver = lambda kind, cid: (kind, cid) in known  # noqa: E731
    with pytest.raises(PlanError) as exc:
        make_plan().validate(resolver)
    assert exc.value.errors == ["components[1].id: unknown reward_model 'minilm-embed-sim' "
                                "(not in the reward-model catalog)"]
    known.add(("reward_model", "minilm-embed-sim"))
    assert make_plan().validate(resolver) is not None


def test_combine_weighted_mean_nan_and_normalise():
    plan = make_plan()
    # chrF 0.6 (clip) and cosine 0.2 -> minmax (0.2+1)/2 = 0.6; weights 2/3, 1/3
    assert plan.combine([0.6, 0.2]) == pytest.approx(0.6)
    assert plan.combine([0.9, -1.0]) == pytest.approx(2 / 3 * 0.9)
    assert math.isnan(plan.combine([math.nan, 0.5]))
    assert math.isnan(plan.combine([0.5, float("nan")]))
    with pytest.raises(ValueError, match="scores: expected 2 values"):
        plan.combine([0.5])
    assert normalise_score(1.7, None) == 1.0 and normalise_score(-0.2, None) == 0.0
    assert normalise_score(0.0, {"type": "sigmoid"}) == pytest.approx(0.5)
    assert normalise_score(2.0, {"type": "sigmoid", "scale": 2.0, "shift": 1.0}) == pytest.approx(1 / (1 + math.exp(-2)))


def test_scoring_meta_reads_constraint_values_per_query():
    plan = RewardPlan("instruction:max_words", "instruction",
                      (Component("verifier", "format_constraints", meta={"max_words": 50, "mode": "all"}),
                       Component("reward_model", "judge-policy", 0.5)),
                      meta={"constraints": {"max_words": 50}})
    meta = plan.scoring_meta(0, "Describe a cat in at most 12 words.", {"source": "x"})
    assert meta == {"source": "x", "constraints": {"max_words": 50}, "max_words": 12, "mode": "all"}
    # other components get sample + plan meta only
    assert plan.scoring_meta(1, "Describe a cat in at most 12 words.", {}) == {"constraints": {"max_words": 50}}


def test_constraints_to_verifier_meta():
    q = ("Wrap your reasoning in <think> tags, answer in JSON, include the keywords sun, moon and do not use the "
         "word \"very\". Use exactly 2 bullet points, all lowercase, no commas.")
    meta = constraints_to_meta(extract_constraints(q))
    assert {k: meta[k] for k in ("think", "json", "required_words", "forbidden_words")} == {
        "think": True, "json": True, "required_words": ["sun", "moon"], "forbidden_words": ["very"]}
    checks = {name: (how, pattern) for name, how, pattern in meta["checks"]}
    assert sorted(checks) == ["bullets", "lowercase", "no_commas"]  # one named check per constraint
    assert checks["lowercase"] == ("forbid", "[A-Z]") and checks["no_commas"] == ("forbid", ",")
    how, bullets = checks["bullets"]
    assert how == "match"
    assert re.search(bullets, "intro\n- one\n* two") and not re.search(bullets, "- one\n- two\n- three")
    (_, _, sentences), = constraints_to_meta({"max_sentences": 2})["checks"]
    assert re.search(sentences, "One. Two") and not re.search(sentences, "One. Two. Three")
    (_, _, ending), = constraints_to_meta({"end_with": "Any questions?"})["checks"]
    assert re.search(ending, "Done. Any questions?\n") and not re.search(ending, "Any questions? No.")
