"""The benchmark's GRPO reward for the peers (TRL, tunix), using the same verifier file as rlar-jax.

rlar-jax runs `verifiers/<id>.py` inside its WebAssembly sandbox (`rewards.system=verifier`,
`rewards.verifier=<id>`); here the very same file is imported as a plain, in-process Python module and
called with the same arguments (the last user message, the completion, the GSM8K final answer as
reference, the rationale in meta), so every side applies identical scoring rules and only the execution
environment differs. `translation_chrf` gives a continuous reward (every group has signal, so every side
runs its full update); `math_answer` is GSM8K's 0/1 answer check (sparse: most groups carry none).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

VERIFIERS = Path(__file__).resolve().parents[1] / "verifiers"
_modules: dict[str, ModuleType] = {}

# Wall-clock seconds of every call, read by the benchmark to split a peer's step into stages.
CALL_SECONDS: list[float] = []


def _verifier(verifier_id: str) -> ModuleType:
    """The module of `verifiers/<verifier_id>.py`, loaded once."""
    if verifier_id not in _modules:
        path = VERIFIERS / f"{verifier_id}.py"
        spec = importlib.util.spec_from_file_location(f"bench_{verifier_id}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load verifier {path}")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _modules[verifier_id] = mod
    return _modules[verifier_id]


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


def make_reward(verifier_id: str) -> Callable[..., list[float | None]]:
    """A TRL reward function scoring with `verifiers/<verifier_id>.py`: one float per completion, None
    where the verifier raises (TRL's missing reward, like a NaN reward on the rlar-jax side).
    `reference` and `rationale` are dataset columns that TRL forwards as keyword arguments."""
    mod = _verifier(verifier_id)

    def reward(prompts: list[Any], completions: list[Any], reference: list[str], rationale: list[str],
               **_: Any) -> list[float | None]:
        t0 = time.perf_counter()
        out: list[float | None] = []
        for p, c, ref, rat in zip(prompts, completions, reference, rationale, strict=True):
            try:
                out.append(float(mod.score(_query(p), _text(c), ref, {"rationale": rat})))
            except Exception:  # a bad sample must not stop training; the sandbox maps it to NaN too
                out.append(None)
        CALL_SECONDS.append(time.perf_counter() - t0)
        return out

    reward.__name__ = verifier_id  # TRL logs rewards/<name>
    return reward
