"""The constraint task: generated prompts state their constraints in words, the reward system reads them back
from the text alone, and the sandboxed verifier scores a response built to satisfy them 1 and one that breaks
any single kind below 1."""

from __future__ import annotations

import gzip
import json
import random

import pytest

from rlar_jax.datasets.examples import DataError
from rlar_jax.datasets import constraints as gen
from rlar_jax.datasets.constraints import CONFLICTS, GENERATED_KINDS, load_constraints, validate_constraints
from rlar_jax.datasets.registry import BUNDLED_DIR
from rlar_jax.rewards.constraints import constraints_to_meta, extract_constraints
from rlar_jax.rewards.routing import get_router
from rlar_jax.rewards.signature import analyse_query
from rlar_jax.sandbox import Sandbox, load_verifier
from rlar_jax.sandbox.build import ensure_guest

IFGEN = BUNDLED_DIR / "ifgen"
FILLER = "the sun is out and the sea is calm"  # none of the letters the letter-frequency kind asks for


def rows(split: str) -> list[dict]:
    with gzip.open(IFGEN / f"{split}.jsonl.gz", "rt") as f:
        return [json.loads(line) for line in f]


def test_bundled_files_are_what_the_generator_makes():
    assert rows("train") == gen.generate("train", 2000)
    assert rows("eval") == gen.generate("eval", 400)


def test_at_least_15_kinds_and_one_to_three_per_prompt():
    train, held = rows("train"), rows("eval")
    kinds = {k for r in train for k in r["constraints"]}
    assert len(kinds) >= 15 and kinds == set(GENERATED_KINDS)
    assert {len(r["constraints"]) for r in train} == {1, 2, 3}
    assert {len(r["constraints"]) for r in held} == {2, 3}
    for r in train + held:  # no contradictory pair is ever generated
        assert not any(p <= set(r["constraints"]) for p in CONFLICTS)


@pytest.mark.parametrize("split", ["train", "eval"])
def test_the_constraints_are_recovered_from_the_prompt_text_alone(split):
    router = get_router()
    if router is not None:  # route every prompt in one batch; analyse_query then reads the router's cache
        router.route_many([r["prompt"] for r in rows(split)])
    for r in rows(split):
        assert extract_constraints(r["prompt"]) == r["constraints"], r["prompt"]
        assert analyse_query(r["prompt"]).family == "instruction", r["prompt"]  # no task tag needed


def test_train_and_held_out_are_disjoint_in_requests_and_combinations():
    train, held = rows("train"), rows("eval")
    held_topics = {t for t in gen.TOPICS if gen.topic_split(t) == "eval"}
    assert held_topics and all(not any(t in r["prompt"] for t in held_topics) for r in train)
    assert all(any(t in r["prompt"] for t in held_topics) for r in held)
    combos = lambda rs: {tuple(sorted(r["constraints"])) for r in rs}  # noqa: E731
    assert not combos(train) & combos(held)
    requests = lambda rs: {r["prompt"].split(". ")[0] for r in rs}  # noqa: E731
    assert not requests(train) & requests(held)


# ------------------------------------------------------------------------------------ verifier round trip


def satisfy(c: dict) -> str:
    """A response that meets every constraint in `c` (any non-conflicting combination)."""
    words = [c["start_with"]] if "start_with" in c else []
    words += FILLER.split()
    words += c.get("keywords", [])
    if "letter_frequency" in c:
        words.append(c["letter_frequency"]["letter"] * c["letter_frequency"]["min"])
    words += [f"*part{i}*" for i in range(c.get("highlights", 0))]
    words += [f"[slot{i}]" for i in range(c.get("placeholders", 0))]
    words += ["sea"] * max(0, c.get("min_words", 0) - len(words))
    body = " ".join(words) + "."
    if "bullets" in c:
        body += "\n" + "\n".join(f"* point {i}" for i in range(c["bullets"]))
    if "paragraphs" in c:
        body = "\n\n".join([body] + ["one more calm sea"] * (c["paragraphs"] - 1))
    if c.get("title"):
        body = "<<a calm title>>\n" + body
    if "end_with" in c:
        body += " " + c["end_with"]
    if c.get("postscript"):
        body += "\nP.S. see you at sea"
    if c.get("json"):
        body = json.dumps({"answer": body})
    body = body.lower() if c.get("lowercase") else body.upper() if c.get("uppercase") else body
    return f"\"{body}\"" if c.get("quotes") else body


def violate(kind: str, c: dict) -> str:
    """A response that meets `c` except for its `kind` constraint."""
    without = {k: v for k, v in c.items() if k != kind}
    s = satisfy(c)
    return {
        "lowercase": lambda: s + " Capital",
        "uppercase": lambda: s + " lower",
        "no_commas": lambda: s + ", and more",
        "quotes": lambda: satisfy(without),
        "json": lambda: "not json: " + s,
        "postscript": lambda: satisfy(without),
        "title": lambda: satisfy(without),
        "max_words": lambda: s + " sea" * c.get("max_words", 0),
        "min_words": lambda: satisfy(without),
        "max_sentences": lambda: s + " Another one." * c.get("max_sentences", 0),
        "paragraphs": lambda: satisfy({**c, "paragraphs": c.get("paragraphs", 0) + 1}),
        "bullets": lambda: satisfy({**c, "bullets": c.get("bullets", 0) + 1}),
        "highlights": lambda: satisfy(without),
        "placeholders": lambda: satisfy(without),
        "keywords": lambda: satisfy(without),
        "forbidden_words": lambda: s + " " + c["forbidden_words"][0],
        "start_with": lambda: "Well then " + s,
        "end_with": lambda: s + " Bye now",
        "letter_frequency": lambda: satisfy(without),
    }[kind]()


@pytest.fixture(scope="module")
def sandbox():
    ensure_guest()
    with Sandbox() as sb:
        yield sb


def score(sandbox, pairs: list[tuple[dict, str]]) -> list[float]:
    rows_ = [{"prompt": "", "response": resp, "reference": "", "meta": constraints_to_meta(c)} for c, resp in pairs]
    results = sandbox.score_batch(load_verifier("format_constraints"), rows_)
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    return [r.score for r in results]


def test_each_kind_alone_scores_1_when_met_and_0_when_broken(sandbox):
    rng = random.Random(0)
    pairs = []
    for kind in GENERATED_KINDS:
        for _ in range(3):
            c = {kind: gen.sample_value(kind, rng)}
            pairs += [(c, satisfy(c)), (c, violate(kind, c))]
    scores = score(sandbox, pairs)
    for i, (c, resp) in enumerate(pairs):
        assert scores[i] == (1.0 if i % 2 == 0 else 0.0), (c, resp, scores[i])


def test_held_out_combinations_score_1_met_and_below_1_with_any_one_broken(sandbox):
    pairs, expected = [], []
    for r in rows("eval")[:120]:
        c = r["constraints"]
        pairs.append((c, satisfy(c)))
        expected.append(1.0)
        for kind in c:
            pairs.append((c, violate(kind, c)))
            expected.append(None)
    for (c, resp), got, want in zip(pairs, score(sandbox, pairs), expected):
        if want is None:
            assert got < 1.0, (c, resp)
        else:
            assert got == 1.0, (c, resp)


# ------------------------------------------------------------------------------------ bad input


def test_a_malformed_or_unparsable_row_names_the_file_and_line(tmp_path):
    path = tmp_path / "held_out.jsonl"
    good = {"prompt": "Write a poem. Use no commas.", "constraints": {"no_commas": True}}
    path.write_text("\n".join(json.dumps(r) for r in [
        good, {"prompt": "Write a poem.", "constraints": {"rhymes": True}}]) + "\n")
    with pytest.raises(DataError, match=r"held_out\.jsonl:2: unknown constraint kind 'rhymes'"):
        load_constraints(path)
    path.write_text(json.dumps(good) + "\n" + '{"prompt": "x", "constraints": {"max_words": "ten"}}\n')
    with pytest.raises(DataError, match=r"held_out\.jsonl:2: constraint 'max_words' must be an integer"):
        load_constraints(path)
    path.write_text(json.dumps(good) + "\n{broken\n")
    with pytest.raises(DataError, match=r"held_out\.jsonl:2: invalid JSON"):
        load_constraints(path)
    from rlar_jax.datasets.examples import RowErrors

    errors = RowErrors("skip")
    assert [e.meta["constraints"] for e in load_constraints(path, errors=errors)] == [{"no_commas": True}]
    assert errors.count == 1


@pytest.mark.parametrize("value,message", [
    ({}, "non-empty object"),
    ({"lowercase": True, "uppercase": True}, "contradictory constraints"),
    ({"letter_frequency": {"letter": "ab", "min": 2}}, "one letter"),
    ({"keywords": []}, "non-empty list"),
])
def test_validate_constraints_errors(value, message):
    with pytest.raises(DataError, match=message):
        validate_constraints(value, "f.jsonl:3")
