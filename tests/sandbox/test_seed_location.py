"""The seed verifiers ship inside the wheel (as `rlar_jax._verifiers`) and are found there after a plain
install; in a source checkout the top-level `verifiers/` folder is used."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from setuptools import find_namespace_packages

from rlar_jax.sandbox.sources import SEED_DIR, SEED_PACKAGE, find_seed_dir, seed_verifiers

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted(p.name for p in (ROOT / "verifiers").glob("*.py") if not p.name.startswith("_"))


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_checkout_uses_the_repository_folder():
    assert SEED_DIR == ROOT / "verifiers"
    assert sorted(p.name for p in seed_verifiers().values()) == SEEDS
    assert len(SEEDS) == 7


def test_pyproject_lists_every_package_and_maps_the_seeds():
    tool = _pyproject()["tool"]["setuptools"]
    on_disk = find_namespace_packages(where=str(ROOT), include=["rlar_jax*"])
    assert sorted(tool["packages"]) == sorted([*on_disk, SEED_PACKAGE])
    assert tool["package-dir"] == {SEED_PACKAGE: "verifiers"}
    assert "*.py" in tool["package-data"][SEED_PACKAGE]


def test_a_foreign_verifiers_folder_outside_a_checkout_is_not_used(tmp_path):
    (tmp_path / "verifiers").mkdir()  # e.g. site-packages/verifiers of another distribution
    (tmp_path / "verifiers" / "other.py").write_text("x = 1\n")
    assert find_seed_dir(tmp_path) != tmp_path / "verifiers"
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # a checkout: its folder wins
    assert find_seed_dir(tmp_path) == tmp_path / "verifiers"


def test_wheel_carries_the_seed_verifiers_and_finds_them_installed(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "rlar_jax", src / "rlar_jax", ignore=skip)
    shutil.copytree(ROOT / "verifiers", src / "verifiers", ignore=skip)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (tmp_path / "dist").glob("rlar_jax-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        shipped = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("rlar_jax/_verifiers/"))
        assert shipped == SEEDS
        assert not any(n.startswith("verifiers/") for n in names)
        zf.extractall(tmp_path / "site")
    # the unpacked wheel imported ahead of this checkout: SEED_DIR is the package folder inside it
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    code = ("import rlar_jax.sandbox.sources as lib; print(lib.__file__); print(lib.SEED_DIR); "
            "print(' '.join(sorted(lib.seed_verifiers())))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    module, seed_dir, ids = proc.stdout.strip().splitlines()
    assert Path(module).is_relative_to(tmp_path / "site")
    assert Path(seed_dir) == tmp_path / "site" / "rlar_jax" / "_verifiers"
    assert ids.split() == [s.removesuffix(".py") for s in SEEDS]
