"""Per-step metrics: JSONL (the record of truth), TensorBoard scalars, and PNG curves."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any


def summary_writer_class() -> type:
    """tensorboardX's `SummaryWriter`, imported without pulling in torch when nothing has imported it.

    tensorboardX imports torch only to accept torch tensors, and we log Python floats; in a JAX run torch
    would add ~180 MB to the resident set for nothing. torch stays importable for everyone else.
    """
    if "torch" in sys.modules or "tensorboardX" in sys.modules:
        from tensorboardX import SummaryWriter
        return SummaryWriter
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
    try:
        from tensorboardX import SummaryWriter
    finally:
        del sys.modules["torch"]
    return SummaryWriter


class MetricsLogger:
    """Appends one JSON object per step to `<run_dir>/metrics.jsonl` and mirrors scalars to TensorBoard.

    With trainer.eval_every, held-out `eval/...` keys join the record of the steps they were scored at,
    and a record holding only them, with step = trainer.steps, follows the last step.
    """

    def __init__(self, run_dir: str | Path, *, tensorboard: bool = True, enabled: bool = True):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "metrics.jsonl"
        self.enabled = enabled
        self._tb = None
        if enabled:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if tensorboard:
                self._tb = summary_writer_class()(str(self.run_dir / "tensorboard"))

    def truncate_from(self, step: int) -> None:
        """Drop records of steps >= `step` (they are recomputed after a resume)."""
        if not (self.enabled and self.path.exists()):
            return
        keep = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", -1) < step]
        self.path.write_text("".join(line + "\n" for line in keep))

    def log(self, record: dict[str, Any]) -> None:
        """Write one record (must contain an integer `step`)."""
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record, sort_keys=True, allow_nan=True) + "\n")
        if self._tb is not None:
            step = int(record["step"])
            for key, value in record.items():
                # Non-finite values (e.g. entropy on a step whose update was skipped) stay in the JSONL only.
                if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool) \
                        and math.isfinite(value):
                    self._tb.add_scalar(key, value, step)
            self._tb.flush()

    def close(self) -> None:
        """Flush and close TensorBoard."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """All records of a run directory's metrics.jsonl."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics.jsonl in {run_dir}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _eval_key(key: str) -> str | None:
    """The held-out counterpart of a training reward curve (drawn in the same panel), if any."""
    if key == "reward/mean":
        return "eval/reward_mean"
    if key.startswith("reward/task/") and key.endswith("/mean"):
        return f"eval/task/{key[len('reward/task/'):-len('/mean')]}/reward_mean"
    return None


def curve_panels(records: list[dict[str, Any]], keys: tuple[str, ...] = ("reward/mean", "loss")
                 ) -> list[tuple[str, list[str]]]:
    """(title, metric keys drawn in it) per panel of the curves PNG: `keys`, then per-task rewards; the
    periodic held-out scores (eval/reward_mean, eval/task/<task>/reward_mean) share the panel of their
    training reward, or get one of their own when it has none."""
    present = {k for r in records for k in r}
    task_keys = sorted(k for k in present if k.startswith("reward/task/") and k.endswith("/mean"))
    panels: list[tuple[str, list[str]]] = []
    for key in list(keys) + task_keys:
        ev = _eval_key(key)
        panels.append((key, [key] + ([ev] if ev in present else [])))
    drawn = {k for _, ks in panels for k in ks}
    evals = sorted(k for k in present if k.startswith("eval/") and k.endswith("/reward_mean") and k not in drawn)
    panels.extend((k, [k]) for k in evals)
    return panels


def plot_curves(run_dir: str | Path, out: str | Path | None = None,
                keys: tuple[str, ...] = ("reward/mean", "loss")) -> Path:
    """PNG with one panel per metric key (plus per-task reward curves when present), held-out scores drawn
    next to the training reward they belong to; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(run_dir)
    panels = curve_panels(records, keys)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
    for ax, (title, lines) in zip(axes[0], panels):
        for key in lines:
            pts = [(r["step"], r[key]) for r in records
                   if isinstance(r.get(key), (int, float)) and not math.isnan(r[key])]
            held_out = key.startswith("eval/")
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="s" if held_out else "o", markersize=3, linestyle="--" if held_out else "-",
                        label="held-out (greedy)" if held_out else "training")
        if len(lines) > 1:
            ax.legend(fontsize=7)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out) if out is not None else Path(run_dir) / "curves.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
