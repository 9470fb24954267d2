"""Bad input to `rlar-jax` ends with one line `error: <message>` on stderr and exit code 2 (no traceback);
`--debug` shows the traceback, and an exception that is a bug keeps it."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlar_jax import cli

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


def _env() -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)  # one CPU device is enough for the checks
    return env


def _run(cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rlar_jax.cli", *argv], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=300)


def _error_line(proc: subprocess.CompletedProcess) -> str:
    """The checks every bad input shares; returns the message after `error: `."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), proc.stderr[-3000:]
    assert sum(line.startswith("error: ") for line in lines) == 1
    return lines[-1].removeprefix("error: ")


@pytest.fixture
def rows(tmp_path) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"prompt": "q", "response": "#### 4", "reference": "#### 4"}) + "\n")
    return path


# -------------------------------------------------------------------------------------------- configs


def test_config_key_typo(tmp_path):
    message = _error_line(_run(tmp_path, "train", "--config", str(TINY), "trainer.stepz=3"))
    assert message.startswith("unknown config key(s) trainer.stepz;") and "'steps'" in message


def test_config_wrong_type(tmp_path):
    message = _error_line(_run(tmp_path, "train", "--config", str(TINY), "trainer.steps=abc"))
    assert message == "trainer.steps: expected int, got str 'abc'"


def test_missing_config_file(tmp_path):
    message = _error_line(_run(tmp_path, "train", "--config", "no_such_config.yaml"))
    assert message == "config file not found: no_such_config.yaml"


def test_bad_yaml_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  steps: 2\n  seed: a: b\n")
    message = _error_line(_run(tmp_path, "train", "--config", str(bad)))
    assert message == f"{bad}:3: invalid YAML: mapping values are not allowed here"


def test_override_without_equals(tmp_path):
    message = _error_line(_run(tmp_path, "train", "--config", str(TINY), "trainer.steps"))
    assert message == "override 'trainer.steps': expected KEY=VALUE, e.g. trainer.steps=20"


# ------------------------------------------------------------------------------------------ verifiers


def test_score_with_an_empty_rows_file(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    message = _error_line(_run(tmp_path, "verifiers", "score", "math_answer", "--input", str(empty)))
    assert message.startswith(f"--input {empty}: the file has no rows")


def test_score_with_zero_processes(tmp_path, rows):
    message = _error_line(_run(tmp_path, "verifiers", "score", "math_answer", "--input", str(rows),
                               "--processes", "0"))
    assert message.startswith("--processes must be >= 1") and message.endswith("got 0")


def test_score_with_too_little_memory(tmp_path, rows):
    message = _error_line(_run(tmp_path, "verifiers", "score", "math_answer", "--input", str(rows),
                               "--memory-mb", "1"))
    assert message.startswith("--memory-mb 1: must be at least 32 MiB")


def test_check_with_a_bad_limit_names_the_flag(tmp_path):
    message = _error_line(_run(tmp_path, "verifiers", "check", "math_answer", "--deadline", "0"))
    assert message == "--deadline 0.0: must be a positive finite number"


def test_unknown_verifier(tmp_path, rows):
    message = _error_line(_run(tmp_path, "verifiers", "score", "no_such_verifier", "--input", str(rows)))
    assert message.startswith("'no_such_verifier' is neither a seed verifier id (code_tests, ")


# --------------------------------------------------------------------------------- plan, eval, generate


def test_plan_with_an_empty_query(tmp_path):
    message = _error_line(_run(tmp_path, "plan", "--query", "  "))
    assert message.startswith("--query: the query is empty")


def test_eval_with_a_missing_checkpoint(tmp_path):
    missing = tmp_path / "no_such_run"
    # the smallest held-out pass the command makes before it looks for the checkpoint
    message = _error_line(_run(tmp_path, "eval", "--config", str(TINY), "--checkpoint", str(missing),
                               "--out", str(tmp_path / "out"), "--batch-size", "1", "mesh.data=1",
                               "data.eval_size=1", "sampling.max_new_tokens=1"))
    assert message == f"checkpoint directory not found: {missing}"
    assert not missing.exists()


def test_generate_with_an_unknown_model(tmp_path):
    message = _error_line(_run(tmp_path, "generate", "--model", "no-such-model", "--prompt", "hi"))
    assert message.startswith("'no-such-model' is neither an existing path, a known model ")


# ------------------------------------------------------------------------------------------ tracebacks


def test_debug_shows_the_traceback(tmp_path):
    proc = _run(tmp_path, "--debug", "train", "--config", str(TINY), "trainer.stepz=3")
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    last = [line for line in proc.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("rlar_jax.schema.ConfigError: unknown config key(s) trainer.stepz")
    assert "error: " not in proc.stderr


def _main_raising(monkeypatch, exc: BaseException, *argv: str) -> int:
    """cli.main with one command whose body raises `exc`."""
    def build_parser() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog="rlar-jax")
        parser.add_argument("--debug", action="store_true")
        sub = parser.add_subparsers(dest="command", required=True)

        def boom(args):
            raise exc
        sub.add_parser("boom").set_defaults(func=boom)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_parser)
    return cli.main([*argv, "boom"])


@pytest.mark.parametrize("exc, message", [
    (KeyError("reward model 'x' is not in the catalog; known: ['a']"),
     "reward model 'x' is not in the catalog; known: ['a']"),
    (FileNotFoundError("data file not found: x.jsonl"), "data file not found: x.jsonl"),
    (IsADirectoryError(21, "Is a directory", "rows"), "[Errno 21] Is a directory: 'rows'"),
    (ValueError("first line\n  second line"), "first line; second line"),
])
def test_known_errors_become_one_line(monkeypatch, capsys, exc, message):
    assert _main_raising(monkeypatch, exc) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


@pytest.mark.parametrize("exc", [RuntimeError("internal"), KeyError("step"), TypeError("bad operand"),
                                 AttributeError("x")])
def test_bugs_keep_their_traceback(monkeypatch, capsys, exc):
    with pytest.raises(type(exc)):
        _main_raising(monkeypatch, exc)
    assert "error:" not in capsys.readouterr().err


def test_debug_reraises_known_errors(monkeypatch):
    with pytest.raises(ValueError, match="bad value"):
        _main_raising(monkeypatch, ValueError("bad value"), "--debug")
