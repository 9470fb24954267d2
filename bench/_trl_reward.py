"""GSM8K final-answer reward for TRL's GRPOTrainer, using the same verifier source as rlar-jax.

rlar-jax's `rewards.system=gsm8k` runs `verifiers/math_answer.py` inside the WebAssembly sandbox; here
the very same file is imported as a plain, in-process Python module, so both sides apply identical
answer-extraction and comparison rules and only the execution environment differs.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import ModuleType
from typing import Any

_VERIFIER = Path(__file__).resolve().parents[1] / "verifiers" / "math_answer.py"
_module: ModuleType | None = None

# Wall-clock seconds of every call, read by the benchmark to split TRL's step into stages.
CALL_SECONDS: list[float] = []


def _verifier() -> ModuleType:
    """The `math_answer` verifier module, loaded once from its file."""
    global _module
    if _module is None:
        spec = importlib.util.spec_from_file_location("bench_math_answer", _VERIFIER)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load verifier {_VERIFIER}")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _module = mod
    return _module


def _text(completion: Any) -> str:
    """A TRL completion as text: conversational completions are lists of message dicts."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content", "") for m in completion if isinstance(m, dict))


def _query(prompt: Any) -> str:
    """The last user message of a TRL prompt (what the verifier sees as `prompt`)."""
    if isinstance(prompt, str):
        return prompt
    users = [m.get("content", "") for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
    return users[-1] if users else ""


def gsm8k_reward(prompts: list[Any], completions: list[Any], reference: list[str], rationale: list[str],
                 **_: Any) -> list[float | None]:
    """1.0 if a completion's final answer equals the GSM8K reference, else 0.0 (None if the verifier
    raises, which TRL treats as a missing reward, like a NaN reward on the rlar-jax side).

    `reference` and `rationale` are dataset columns that TRL forwards as keyword arguments.
    """
    t0 = time.perf_counter()
    mod = _verifier()
    out: list[float | None] = []
    for p, c, ref, rat in zip(prompts, completions, reference, rationale, strict=True):
        try:
            out.append(float(mod.score(_query(p), _text(c), ref, {"rationale": rat})))
        except Exception:  # a bad sample must not stop training; the sandbox maps it to NaN too
            out.append(None)
    CALL_SECONDS.append(time.perf_counter() - t0)
    return out
