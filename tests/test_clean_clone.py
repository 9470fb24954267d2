"""A clean clone (`git archive HEAD`, nothing beside it) trains the tiny and default configs and runs
rewardbench, reading no file outside the clone, the virtual environment, the model cache and the system."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"  # source material beside development checkouts: never read
SYSTEM = ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/sys", "/dev", "/run")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The committed tree, extracted where no `shared/` lies above or beside it."""
    out = tmp_path_factory.mktemp("clean") / "rlar-jax"
    out.mkdir()
    tar = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as tf:
        tf.extractall(out, filter="data")
    for d in (out, *out.parents):
        assert not (d / "shared").exists(), f"{d / 'shared'} exists: the clone would not be clean"
    assert (out / "rlar_jax" / "datasets" / "bundled" / "gsm8k" / "train.jsonl.gz").is_file()
    return out


def _run(clone: Path, tmp: Path, name: str, *args: str, timeout: int = 1200) -> tuple[str, dict]:
    """`python audit_launcher.py -m rlar_jax.cli ARGS` in the clone; returns (stdout, audit report)."""
    cache = Path(os.environ.get("RLAR_JAX_HOME") or Path.home() / ".cache" / "rlar_jax").resolve()
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    log = tmp / f"audit-{name}.json"
    venv = Path(sys.prefix).resolve()
    allowed = [clone, tmp, venv, Path(sys.base_prefix).resolve(), cache, Path(tempfile.gettempdir()).resolve(),
               *map(Path, SYSTEM)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "RLAR_", "HF_", "XLA_"))}
    env.update(HOME=str(home), RLAR_JAX_HOME=str(cache), HF_HOME=str(home / "hf"), HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", JAX_PLATFORMS="cpu", MPLBACKEND="Agg",
               AUDIT_ALLOWED=os.pathsep.join(map(str, allowed)), AUDIT_FORBIDDEN=str(SHARED), AUDIT_LOG=str(log))
    proc = subprocess.run([sys.executable, str(clone / "tests" / "audit_launcher.py"), "-m", "rlar_jax.cli", *args],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"rlar-jax {' '.join(args)} failed:\n{output[-6000:]}"
    report = json.loads(log.read_text())
    assert report["modules"]["rlar_jax"].startswith(str(clone)), report["modules"]  # the clone's code ran
    assert report["violations"] == {}, f"files read outside the allowed roots: {report['violations']}"
    return proc.stdout, report


def test_tiny_config_trains_from_a_clean_clone(clone, tmp_path):
    run = tmp_path / "tiny"
    _run(clone, tmp_path, "tiny", "train", "--config", "configs/tiny.yaml", f"trainer.run_dir={run}")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2, 3]
    summary = json.loads((run / "summary.json").read_text())
    assert "eval_before" in summary and "eval_after" in summary
    assert "gsm8k:train" in (run / "config.json").read_text()


def test_default_config_one_short_step_from_a_clean_clone(clone, tmp_path):
    import yaml

    run = tmp_path / "default"
    short = [f"trainer.run_dir={run}", "trainer.steps=1", "optim.warmup_steps=0", "trainer.prompts_per_step=2",
             "trainer.micro_batch_size=0", "trainer.eval_every=0", "sampling.group_size=4",
             "sampling.max_new_tokens=8", "trainer.checkpoint_every=1", "trainer.plot=false", "data.eval_size=2"]
    tasks = (yaml.safe_load((clone / "configs" / "default.yaml").read_text()).get("data") or {}).get("tasks")
    if tasks:  # the same data sources, each with a tiny held-out slice
        short.append("data.tasks=" + json.dumps([{**t, "eval_size": 2} for t in tasks]))
    _run(clone, tmp_path, "default", "train", "--config", "configs/default.yaml", *short)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0]
    assert (run / "checkpoints" / "1").is_dir()


def test_rewardbench_from_a_clean_clone(clone, tmp_path):
    out, _ = _run(clone, tmp_path, "rewardbench", "rewardbench", "--limit", "2")
    table = {line.split()[0]: line.split() for line in out.splitlines() if line.strip() and not line.startswith("{")}
    assert {"math", "code", "translation", "safety", "instruction", "average"} <= set(table)
    assert table["math"][1] == "2"
