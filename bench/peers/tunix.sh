#!/usr/bin/env bash
# Creates bench/peers/.venv-tunix: Google's tunix (JAX, Flax NNX) with the jax it is benchmarked on,
# for bench/peers/tunix_side.py. Idempotent: an existing venv with the pinned versions is kept.
#
#     bash bench/peers/tunix.sh            # PYTHON=python3.11 by default
#
# Everything comes from PyPI. tunix's own requirements bring flax, optax, orbax and qwix; safetensors
# reads our HF export; transformers provides the tokenizer object GRPOLearner's rollout path expects.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-tunix"
PYTHON="${PYTHON:-python3.11}"
PINS=(
  "google-tunix==0.1.7"
  "jax==0.10.2"
  "jaxlib==0.10.2"
  "safetensors>=0.4"
  "numpy>=1.26"
  "transformers>=4.50"
)
STAMP="$VENV/.pins"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "${PINS[*]}" ]]; then
  echo "tunix venv up to date: $VENV"
  exit 0
fi
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "${PINS[@]}"
"$VENV/bin/python" - <<'PY'
import jax, tunix  # noqa: F401
from tunix.models.llama3 import model  # noqa: F401
from tunix.generate import sampler  # noqa: F401
from tunix.rl.grpo import grpo_learner  # noqa: F401
from importlib.metadata import version
print("tunix", version("google-tunix"), "jax", jax.__version__, "flax", version("flax"))
PY
printf '%s' "${PINS[*]}" > "$STAMP"
echo "tunix venv ready: $VENV"
