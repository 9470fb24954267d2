"""Guest build cache: keyed by sources and versions, located under RLAR_JAX_HOME, built once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlar_jax.sandbox import build
from rlar_jax.sandbox.guest import guest_sources

ROOT = Path(__file__).resolve().parents[2]


def test_cache_location_follows_rlar_jax_home(monkeypatch, tmp_path):
    monkeypatch.setenv("RLAR_JAX_HOME", str(tmp_path))
    assert build.guest_path().parent == tmp_path / "sandbox"
    assert build.guest_path(Path("/elsewhere")).parent == Path("/elsewhere/sandbox")
    monkeypatch.delenv("RLAR_JAX_HOME")
    assert build.rlar_home() == Path.home() / ".cache" / "rlar_jax"


def test_key_changes_with_guest_sources(monkeypatch):
    key = build.guest_key()
    assert key == build.guest_key() and len(key) == 16
    edited = dict(guest_sources())
    edited["verifier_guest.py"] += "\n# edited\n"
    monkeypatch.setattr(build, "guest_sources", lambda: edited)
    assert build.guest_key() != key


def test_cached_guest_is_reused(guest_path):
    info = build.ensure_guest()
    assert info.path == guest_path and not info.built and guest_path.stat().st_size > 10 << 20


@pytest.mark.slow
def test_concurrent_builds_build_once(tmp_path):
    """Two processes ask for the guest in an empty home at once: one builds, the other waits and reuses."""
    code = ("import json, sys\nfrom pathlib import Path\nfrom rlar_jax.sandbox.build import ensure_guest\n"
            "i = ensure_guest(Path(sys.argv[1]))\nprint(json.dumps({'path': str(i.path), 'built': i.built}))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=900)[0]) for p in procs]
    assert sorted(o["built"] for o in outs) == [False, True]
    assert outs[0]["path"] == outs[1]["path"]
    assert [p.name for p in (tmp_path / "sandbox").iterdir() if p.suffix == ".cwasm"] == [Path(outs[0]["path"]).name]
