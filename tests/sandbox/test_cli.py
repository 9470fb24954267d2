"""`rlar-jax verifiers ...` and `rlar-jax sandbox build`, through rlar_jax.cli.main and a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rlar_jax.cli import main
from rlar_jax.sandbox import seed_verifiers, source_sha256

ROOT = Path(__file__).resolve().parents[2]


def test_list_shows_every_seed(capsys):
    assert main(["verifiers", "list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    seeds = seed_verifiers()
    assert [line.split()[0] for line in lines] == sorted(seeds)
    first = dict(zip([line.split()[0] for line in lines], lines))
    sha = source_sha256(seeds["math_answer"].read_text())
    assert sha[:12] in first["math_answer"] and "math response" in first["math_answer"]


def test_check_passes_seed_and_fails_broken_file(guest_path, tmp_path, capsys):
    assert main(["verifiers", "check", "exact_match"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and all(c["passed"] for c in report["cases"]) and len(report["cases"]) >= 8
    bad = tmp_path / "bad.py"
    bad.write_text("def score(p, r, ref, meta):\n    return 1.0\nCASES = [('p', 'r', 'x', {}, 1.0), ('p', 'r', 'y', {}, 0.0)]\n")
    assert main(["verifiers", "check", str(bad)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and [c["passed"] for c in report["cases"]] == [True, False]
    assert report["cases"][1]["expected"] == 0.0 and report["cases"][1]["got"] == 1.0
    nocases = tmp_path / "nocases.py"
    nocases.write_text("def score(*a):\n    return 1.0\n")
    assert main(["verifiers", "check", str(nocases)]) == 1
    assert "CASES" in json.loads(capsys.readouterr().out)["define_error"]
    assert main(["verifiers", "check", "no_such_verifier"]) == 2
    assert "neither a seed verifier id" in capsys.readouterr().err


def test_score_jsonl(guest_path, tmp_path, capsys):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n".join(json.dumps(r) for r in [
        {"prompt": "q", "response": "so \\boxed{18}", "reference": "#### 18"},
        {"prompt": "q", "response": "#### 17", "reference": "#### 18", "meta": {}},
        {"prompt": "q", "response": "#### 17", "reference": ""},
    ]) + "\n")
    assert main(["verifiers", "score", "math_answer", "--input", str(rows)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [(o["index"], o["score"], o["error_kind"]) for o in out] == [(0, 1.0, None), (1, 0.0, None), (2, None, "exception")]
    assert "reference has no answer" in out[2]["message"]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "q", "response": "r", "reference": "x"}\n{"prompt": 3}\n')
    assert main(["verifiers", "score", "math_answer", "--input", str(broken)]) == 2
    assert "broken.jsonl:2: field 'prompt' must be a string" in capsys.readouterr().err


def test_build_reports_cached_artifact(guest_path, capsys):
    assert main(["sandbox", "build"]) == 0
    out = capsys.readouterr().out
    assert str(guest_path) in out and "already cached" in out


def test_check_through_a_subprocess(guest_path):
    proc = subprocess.run([sys.executable, "-m", "rlar_jax.cli", "verifiers", "check", "multiple_choice"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
    assert "panic" not in proc.stderr.lower()
