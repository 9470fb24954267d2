"""Launches tunix (bench/peers/tunix_side.py) in its own venv for bench/rollout.py and bench/grpo_step.py.

tunix pins its own jax stack, so it runs in bench/peers/.venv-tunix (made by `bash bench/peers/tunix.sh`),
one subprocess per measurement; jobs and results travel as JSON files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENV_PYTHON = HERE / ".venv-tunix" / "bin" / "python"
SIDE = HERE / "tunix_side.py"


def python() -> Path:
    """The tunix venv's interpreter; exits with how to make it when it is missing."""
    if not VENV_PYTHON.exists():
        raise SystemExit(f"tunix peer: {VENV_PYTHON} not found; create it with `bash {HERE / 'tunix.sh'}`")
    return VENV_PYTHON


def run(command: str, hf_dir: str | Path, job: dict[str, Any], threads: int = 0, extra: list[str] | None = None,
        quiet: bool = False) -> dict[str, Any]:
    """Run `tunix_side.py COMMAND` on `job` and return its result; on failure, show its output and exit."""
    with tempfile.TemporaryDirectory() as d:
        inp, out = Path(d) / "job.json", Path(d) / "result.json"
        inp.write_text(json.dumps(job))
        cmd = [str(python()), str(SIDE), command, "--hf-dir", str(hf_dir), "--in", str(inp), "--out", str(out),
               "--threads", str(threads), *(extra or [])]
        env = dict(os.environ, JAX_PLATFORMS="cpu", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error")
        env.pop("PYTHONPATH", None)  # nothing from the main venv's path leaks into tunix's
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if not quiet:
            sys.stdout.write("".join(f"  [tunix] {line}\n" for line in proc.stdout.splitlines()
                                     if line.startswith("tunix ")))
        if proc.returncode != 0 or not out.exists():
            sys.stderr.write(proc.stdout[-8000:])
            raise SystemExit(f"tunix side {command!r} failed with exit status {proc.returncode}")
        return json.loads(out.read_text())


def sample(hf_dir: str | Path, prompts: list[list[int]], new_tokens: int, repeats: int) -> dict[str, Any]:
    """Greedy generation of exactly `new_tokens` per prompt with tunix's Sampler (see tunix_side.py)."""
    return run("sample", hf_dir, {"prompts": prompts, "new_tokens": new_tokens, "repeats": repeats})


def train(hf_dir: str | Path, job: dict[str, Any], threads: int) -> dict[str, Any]:
    """W + N GRPO steps with tunix's GRPOLearner (see tunix_train.py)."""
    return run("train", hf_dir, job, threads=threads)


def name(res: dict[str, Any]) -> str:
    """How the peer is named in reports, e.g. 'tunix 0.1.7'."""
    return f"tunix {res.get('tunix', '?')}"
