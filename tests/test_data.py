"""Data loading: every task kind on the bundled data, malformed rows (named errors, skip-and-count), mixtures."""

import gzip
import json

import pytest

from rlar_jax.config import ConfigError, DataSection, build
from rlar_jax.datasets.examples import DataError, RowErrors, batch_at, shuffled
from rlar_jax.datasets.problems import load_gsm8k
from rlar_jax.datasets.readers import read_text
from rlar_jax.datasets.mixture import load_eval, load_train
from rlar_jax.datasets import (load_hh, load_humaneval, load_jsonl, load_llmbar, load_math, load_mbpp, load_pairs,
                               load_wmt)
from rlar_jax.datasets.registry import BUNDLED_DIR

GSM8K = BUNDLED_DIR / "gsm8k" / "test.jsonl.gz"


def test_gsm8k_examples():
    ex = load_gsm8k(GSM8K, limit=5, system_prompt="Be brief.")
    assert len(ex) == 5
    assert ex[0].task == "math"
    assert ex[0].messages[0] == {"role": "system", "content": "Be brief."}
    assert ex[0].query.startswith("Janet") and "####" in ex[0].query
    assert ex[0].reference == "18"  # Janet's ducks: #### 18
    assert ex[0].meta["rationale"].endswith("#### 18")


def test_malformed_rows_name_file_line_and_field(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"question": "q", "answer": "a #### 1"}\n{"question": "q2"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: missing field 'answer'"):
        load_gsm8k(p)
    p.write_text('{"question": 3, "answer": "#### 1"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:1: field 'question' must be str, got int"):
        load_gsm8k(p)
    p.write_text('{"question": "q", "answer": "no final"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:1: field 'answer' has no '#### <final answer>' line"):
        load_gsm8k(p)
    p.write_text('{"question": "q", "answer": "#### 1"}\nnot json\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: invalid JSON"):
        load_gsm8k(p)
    with pytest.raises(FileNotFoundError, match="data file not found"):
        load_gsm8k(tmp_path / "missing.jsonl")


def test_shuffle_and_wraparound():
    ex = load_gsm8k(GSM8K, limit=10)
    a, b = shuffled(ex, 0), shuffled(ex, 0)
    assert [e.uid for e in a] == [e.uid for e in b] and [e.uid for e in a] != [e.uid for e in ex]
    assert [e.uid for e in batch_at(a, 8, 4)] == [e.uid for e in (a[8], a[9], a[0], a[1])]


# ------------------------------------------------------------------------------ task kinds and mixtures

DATA = BUNDLED_DIR
MBPP = DATA / "mbpp" / "mbpp.jsonl.gz"
WMT_EN_DE = DATA / "wmt22" / "generaltest2022.en-de.src.en.gz"
HH = DATA / "hh_rlhf_harmless" / "test.jsonl.gz"
LLMBAR = DATA / "llmbar" / "Natural.json.gz"


def _jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_math_rows_and_malformed(tmp_path):
    ex = load_math(DATA / "math500" / "test.jsonl.gz", limit=3)
    assert [e.task for e in ex] == ["math"] * 3
    assert ex[0].reference == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert ex[0].meta == {"subject": "Precalculus", "level": 2} and "\\boxed{}" in ex[0].query
    p = _jsonl(tmp_path / "m.jsonl", [{"problem": "1+1?", "answer": "2"}, {"problem": "2+2?"},
                                      {"problem": "3+3?", "answer": 6}, {"answer": "1"}])
    with pytest.raises(DataError, match=r"m.jsonl:2: missing field 'answer'"):
        load_math(p)
    errors = RowErrors("skip")
    ex = load_math(p, errors=errors)
    assert [e.reference for e in ex] == ["2", "6"]  # an int answer is accepted as text
    assert errors.count == 2 and "m.jsonl:4: missing field 'problem'" in errors.messages[1]


def test_mbpp_split_prompt_meta_and_malformed(tmp_path):
    test = load_mbpp(MBPP, split="test")
    train = load_mbpp(MBPP, split="train")
    assert len(test) == 500 and len(train) == 464
    assert {e.meta["task_id"] for e in test} == set(range(11, 511))
    assert min(e.meta["task_id"] for e in train) == 511 and max(e.meta["task_id"] for e in train) == 974
    e = test[0]
    assert e.task == "mbpp" and e.uid == "mbpp:11"
    assert e.meta["entry_point"] == "remove_Occ" and len(e.meta["tests"]) == 3
    assert e.meta["tests"][0] in e.query and e.meta["tests"][1] not in e.query  # one test shown
    assert e.reference.startswith("def remove_Occ") and "\r" not in e.reference
    row = {"text": "t", "code": "def f(x):\n    return x", "task_id": 600, "test_setup_code": "",
           "test_list": ["assert f(1) == 1"]}
    p = _jsonl(tmp_path / "mbpp.jsonl", [row, {**row, "test_list": []}, {**row, "task_id": "7"}])
    with pytest.raises(DataError, match=r"mbpp.jsonl:2: field 'test_list' must be a non-empty list"):
        load_mbpp(p)
    errors = RowErrors("skip")
    assert len(load_mbpp(p, errors=errors)) == 1 and errors.count == 2
    assert "mbpp.jsonl:3: field 'task_id' must be int, got str" in errors.messages[1]


def test_code_examples_meta_works_with_the_code_tests_verifier(tmp_path):
    """The reference solutions pass their own tests in the sandbox, a wrong one fails: the meta is right."""
    from rlar_jax.sandbox import Sandbox, load_verifier

    mbpp = load_mbpp(MBPP, split="test", limit=3)
    he_row = {"task_id": "HumanEval/0", "entry_point": "has_close", "prompt":
              "from typing import List\n\n\ndef has_close(xs: List[float], t: float) -> bool:\n    \"\"\"Any two "
              "closer than t?\"\"\"\n", "canonical_solution": "    return any(abs(a - b) < t for i, a in "
              "enumerate(xs) for b in xs[i + 1:])\n", "test": "def check(candidate):\n    assert candidate([1.0, "
              "2.0, 3.9], 0.3) is False\n    assert candidate([1.0, 2.8, 3.0], 0.3) is True\n"}
    he = load_humaneval(_jsonl(tmp_path / "he.jsonl", [he_row]))
    assert he[0].task == "humaneval" and he[0].meta["entry_point"] == "has_close" and "```python" in he[0].query
    wrong = "```python\ndef has_close(xs: List[float], t: float) -> bool:\n    return False\n```"
    rows = [{"prompt": e.query, "response": f"```python\n{e.reference}\n```", "reference": "", "meta": e.meta}
            for e in mbpp + he]
    rows.append({"prompt": he[0].query, "response": wrong, "reference": "", "meta": he[0].meta})
    with Sandbox() as sb:
        scores = [r.score for r in sb.score_batch(load_verifier("code_tests"), rows)]
    assert scores == [1.0, 1.0, 1.0, 1.0, 0.0]
    with pytest.raises(DataError, match=r"he.jsonl:1: field 'test' must define check"):
        load_humaneval(_jsonl(tmp_path / "he.jsonl", [{**he_row, "test": "assert True"}]))


def test_wmt_line_aligned_files(tmp_path):
    ex = load_wmt(WMT_EN_DE)
    assert len(ex) == 2037 and ex[0].task == "wmt"
    assert ex[0].meta["language_pair"] == "en-de"
    assert "into German" in ex[0].query and ex[0].query.endswith(ex[0].meta["source"])
    assert ex[0].reference.startswith("Sie können jederzeit wiederkommen")
    src, ref = tmp_path / "a.txt", tmp_path / "b.txt"
    src.write_text("one\ntwo\nthree\n")
    ref.write_text("eins\nzwei\n")
    with pytest.raises(DataError, match=r"a.txt has 3 lines but .*b.txt has 2"):
        load_wmt(src, reference_path=ref, language_pair="en-de")
    with pytest.raises(DataError, match="cannot read the language pair"):
        load_wmt(src, reference_path=ref)
    ref.write_text("eins\n\ndrei\n")
    with pytest.raises(DataError, match=r"b.txt:2: empty reference line"):
        load_wmt(src, reference_path=ref, language_pair="en-de")
    errors = RowErrors("skip")
    assert [e.reference for e in load_wmt(src, reference_path=ref, language_pair="en-de", errors=errors)] == \
        ["eins", "drei"] and errors.count == 1
    rows = _jsonl(tmp_path / "t.jsonl", [{"translation": {"de": "Hallo", "en": "Hello"}}, {"translation": {"en": "x"}}])
    with pytest.raises(DataError, match=r"t.jsonl:2: field 'translation' has no non-empty 'de'"):
        load_wmt(rows, language_pair="de-en")
    assert load_wmt(rows, language_pair="de-en", limit=1)[0].reference == "Hello"


def test_hh_dialogues_and_pairs(tmp_path):
    ex = load_hh(HH, limit=5)
    e = ex[0]
    assert e.task == "hh" and [m["role"] for m in e.messages] == ["user", "assistant", "user", "assistant", "user"]
    assert e.query == "okay some of these do not have anything to do with pens"
    assert e.reference.startswith("No, sorry!") and e.meta["rejected"].startswith("There are lots of funny things")
    pairs = load_pairs("hh", HH, limit=5)
    assert [p.chosen for p in pairs] == [x.reference for x in ex] and pairs[0].messages == e.messages
    good = {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go away"}
    p = tmp_path / "hh.jsonl.gz"
    with gzip.open(p, "wt") as f:
        for row in (good, {**good, "rejected": "no turns here"}, {**good, "chosen": "\n\nHuman: hi"}):
            f.write(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"hh.jsonl.gz:2: field 'rejected' is not a 'Human: ... Assistant: ...'"):
        load_hh(p)
    errors = RowErrors("skip")
    assert len(load_hh(p, errors=errors)) == 1 and errors.count == 2
    assert "hh.jsonl.gz:3: field 'chosen'" in errors.messages[1]


def test_llmbar_pairs_and_malformed(tmp_path):
    ex = load_llmbar(LLMBAR)
    assert len(ex) == 100 and ex[0].task == "llmbar"
    raw = json.loads(read_text(LLMBAR))
    for e, r in zip(ex, raw):
        assert (e.reference, e.meta["rejected"]) == ((r["output_1"], r["output_2"]) if r["label"] == 1
                                                      else (r["output_2"], r["output_1"]))
    rows = [{"input": "a", "output_1": "x", "output_2": "y", "label": 2},
            {"input": "b", "output_1": "x", "output_2": "y", "label": 3}]
    p = tmp_path / "bar.json"
    p.write_text("[\n" + ",\n".join(json.dumps(r, indent=1) for r in rows) + "\n]\n")
    line = 2 + json.dumps(rows[0], indent=1).count("\n") + 1  # where the second object starts
    with pytest.raises(DataError, match=rf"bar.json:{line}: field 'label' must be 1 or 2"):
        load_llmbar(p)
    errors = RowErrors("skip")
    pairs = load_pairs("llmbar", p, errors=errors)
    assert [(x.chosen, x.rejected) for x in pairs] == [("y", "x")] and errors.count == 1
    lines = _jsonl(tmp_path / "lines.json", rows)  # JSON lines in a .json file are read line by line
    with pytest.raises(DataError, match=r"lines.json:2: field 'label' must be 1 or 2"):
        load_llmbar(lines)
    p.write_text('[{"input": "a", "output_1": "x", "output_2": "y", "label": 1}\n{"input": "b"}]')
    with pytest.raises(DataError, match=r"bar.json:2: expected ',' or '\]'"):
        load_llmbar(p)


def test_pairs_leave_out_non_pairs_and_read_directories(tmp_path):
    shared = {"chosen": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: q?\n\nAssistant: yes",
              "rejected": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: q?\n\nAssistant: no"}
    other = {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: c\n\nAssistant: d"}
    equal = {**shared, "rejected": shared["chosen"]}
    _jsonl(tmp_path / "a.jsonl", [shared, other, equal])
    _jsonl(tmp_path / "b.jsonl", [shared])
    pairs = load_pairs("hh", tmp_path)  # a directory: its files in name order; unshared/equal rows are no pairs
    assert [p.uid.rpartition("/")[2] for p in pairs] == ["a.jsonl:1", "b.jsonl:1"]
    assert pairs[0].prompt == "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: q?" and pairs[0].query == "q?"
    assert (pairs[0].chosen, pairs[0].rejected, pairs[0].task) == ("yes", "no", "hh")
    assert len(load_pairs("hh", tmp_path, limit=1)) == 1
    with pytest.raises(ValueError, match="expected 'hh' or 'llmbar'"):
        load_pairs("csv", tmp_path)


def test_generic_jsonl_field_mapping(tmp_path):
    p = _jsonl(tmp_path / "g.jsonl", [{"q": "Name a colour.", "a": "red", "tests": ["t"]}, {"q": "Again?"}])
    ex = load_jsonl(p, {"prompt": "q", "reference": "a", "meta.tests": "tests"}, task="trivia", limit=1)
    assert ex[0].query == "Name a colour." and ex[0].reference == "red" and ex[0].meta == {"tests": ["t"]}
    with pytest.raises(DataError, match=r"g.jsonl:2: missing field 'a'"):
        load_jsonl(p, {"prompt": "q", "reference": "a"}, task="trivia")
    with pytest.raises(ValueError, match="fields: unknown key 'answer'"):
        load_jsonl(p, {"prompt": "q", "answer": "a"}, task="trivia")
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]
    chats = _jsonl(tmp_path / "c.jsonl", [{"m": turns}])
    with pytest.raises(DataError, match=r"c.jsonl:1: field 'm' must end with a user message"):
        load_jsonl(chats, {"messages": "m"}, task="chat")


def _mix(**kw):
    tasks = [
        {"kind": "gsm8k", "name": "math", "train_path": str(DATA / "gsm8k/train.jsonl.gz"),
         "eval_path": str(GSM8K), "limit": 40},
        {"kind": "mbpp", "name": "code", "path": str(MBPP), "limit": 20},
        {"kind": "wmt", "name": "translation", "path": str(WMT_EN_DE), "limit": 30},
        {"kind": "hh", "name": "dialogue", "path": str(HH), "limit": 10},
    ]
    return build(DataSection, {"eval_size": 3, "tasks": tasks, **kw}, "data")


def test_mixture_interleaves_by_weight_and_is_seeded():
    cfg = _mix()
    train = load_train(cfg)
    assert len(train) == 100  # 40 + 20 + 30 + 10, each task resampled to a quarter
    for step in range(0, 100, 4):  # every step of 4 prompts sees each task once
        assert sorted(e.task for e in train[step:step + 4]) == ["code", "dialogue", "math", "translation"]
    assert len({e.uid for e in train if e.task == "dialogue"}) == 10  # cycled when short
    assert [e.uid for e in load_train(_mix())] == [e.uid for e in train]
    assert [e.uid for e in load_train(_mix(shuffle_seed=1))] != [e.uid for e in train]
    cfg.tasks[0].weight = 3.0
    skewed = load_train(cfg)
    counts = {t: sum(e.task == t for e in skewed) for t in ("math", "code")}
    assert counts == {"math": 50, "code": 17}  # 100 * 3/6 and 100 * 1/6
    assert sum(e.task == "math" for e in skewed[:12]) == 6
    ev = load_eval(cfg)
    assert [e.task for e in ev] == ["math"] * 3 + ["code"] * 3 + ["translation"] * 3 + ["dialogue"] * 3
    assert [e.meta["task_id"] for e in ev if e.task == "code"] == [11, 12, 13]
    short = load_train(_mix(max_prompt_chars=300))
    assert short and max(sum(len(m["content"]) for m in e.messages) for e in short) <= 300
    assert {e.task for e in short} == {"math", "code", "translation", "dialogue"}
    # `path` alone: the first eval_size rows are held out from training
    held = {e.uid for e in ev if e.task == "translation"}
    assert not held & {e.uid for e in train if e.task == "translation"}


def test_single_source_is_unchanged_and_mixture_errors(tmp_path):
    legacy = build(DataSection, {"train_path": str(GSM8K), "eval_path": str(GSM8K), "eval_size": 2,
                                 "max_train_examples": 10, "shuffle_seed": 3}, "data")
    assert [e.uid for e in load_train(legacy)] == [e.uid for e in shuffled(load_gsm8k(GSM8K, limit=10), 3)]
    assert [e.task for e in load_eval(legacy)] == ["math", "math"]
    assert load_eval(build(DataSection, {"eval_size": 0}, "data")) == []
    with pytest.raises(ValueError, match=r"task name\(s\) \['wmt'\] used twice"):
        load_train(build(DataSection, {"tasks": [{"kind": "wmt", "path": str(WMT_EN_DE)}] * 2}, "data"))
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) data.tasks\[0\].paht"):
        build(DataSection, {"tasks": [{"kind": "wmt", "paht": "x"}]}, "data")
    with pytest.raises(ConfigError, match=r"data.tasks\[0\].kind: expected one of"):
        build(DataSection, {"tasks": [{"kind": "squad", "path": "x"}]}, "data")
    with pytest.raises(ConfigError, match="weight must be > 0"):
        build(DataSection, {"tasks": [{"kind": "wmt", "path": "x", "weight": 0}]}, "data")
    bad = _jsonl(tmp_path / "bad.jsonl", [{"question": "q", "answer": "#### 1"}, {"question": "q"},
                                         {"question": "q", "answer": "#### 2"}, {"question": "q", "answer": "#### 3"}])
    task = {"kind": "gsm8k", "path": str(bad)}
    with pytest.raises(DataError, match=r"bad.jsonl:2: missing field 'answer'"):
        load_train(build(DataSection, {"eval_size": 1, "tasks": [task]}, "data"))
    from rlar_jax.datasets import load_split

    examples, report = load_split(build(DataSection, {"eval_size": 1, "tasks": [{**task, "on_error": "skip"}]},
                                        "data"), "train")
    assert sorted(e.reference for e in examples) == ["2", "3"]
    assert report.skipped == {"gsm8k": 1} and report.loaded == {"gsm8k": 2}


def test_planner_routes_each_task_kind():
    """Task tags and meta of every kind lead the offline planner to the intended reward."""
    from rlar_jax.rewards.planner import OfflinePlanner

    planner = OfflinePlanner()
    first = {}
    for e in load_eval(_mix()) + load_llmbar(LLMBAR, limit=1):
        first.setdefault(e.task, e)
    plans = {t: planner.plan(e.query, e.task, e.reference, e.meta) for t, e in first.items()}
    assert plans["math"].components[0].id == "math_answer"
    assert plans["code"].components[0].id == "code_tests" and plans["code"].task_family == "code"
    assert plans["translation"].components[0].id == "translation_chrf"
    assert plans["translation"].meta["lang_pair"] == "en-de"
    assert plans["dialogue"].task_family == "dialogue" and plans["llmbar"].task_family == "dialogue"
    assert all(c.kind == "reward_model" for c in plans["dialogue"].components)
