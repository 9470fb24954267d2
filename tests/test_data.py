"""Data loading: GSM8K rows become examples; malformed rows name file, line and field."""

from pathlib import Path

import pytest

from rlar_jax.data import DataError, batch_at, load_gsm8k, shuffled

GSM8K = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "gsm8k" / "test.jsonl"


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
