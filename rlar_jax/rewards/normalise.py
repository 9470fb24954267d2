"""Raw reward-model and component scores mapped to [0, 1] by a catalog or plan `normalisation` spec."""

from __future__ import annotations

from typing import Any

import numpy as np


def normalise(raw: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """Map raw model outputs to [0, 1] by a catalog `normalisation` spec.

    Types: "sigmoid" (optional "scale", "shift": sigmoid(scale * (x - shift))), "minmax" ("min", "max"),
    "clip" (already a probability; clipped to [0, 1]). NaN stays NaN.
    """
    kind = (spec or {}).get("type", "clip")
    x = np.asarray(raw, np.float64)
    if kind == "sigmoid":
        z = float(spec.get("scale", 1.0)) * (x - float(spec.get("shift", 0.0)))
        out = 0.5 * (1.0 + np.tanh(0.5 * z))  # the overflow-free form of 1 / (1 + exp(-z))
    elif kind == "minmax":
        lo, hi = float(spec.get("min", 0.0)), float(spec.get("max", 1.0))
        if not hi > lo:
            raise ValueError(f"normalisation: minmax needs max > min, got min={lo}, max={hi}")
        out = (x - lo) / (hi - lo)
    elif kind == "clip":
        out = x
    else:
        raise ValueError(f"normalisation.type: expected sigmoid | minmax | clip, got {kind!r}")
    return np.clip(out, 0.0, 1.0)
