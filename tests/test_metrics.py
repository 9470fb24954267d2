"""MetricsLogger: JSONL records, TensorBoard scalars, and no torch import for a JAX run."""

import json
import struct
import subprocess
import sys
from pathlib import Path

from rlar_jax.metrics import MetricsLogger, read_metrics

_CHILD = """
import json, sys
from rlar_jax.metrics import MetricsLogger
log = MetricsLogger(sys.argv[1])
log.log({"step": 0, "loss": 0.5}); log.log({"step": 1, "loss": 0.25}); log.close()
import torch  # still importable afterwards
print(json.dumps({"torch_ok": hasattr(torch, "tensor")}))
"""


def test_tensorboard_without_torch(tmp_path: Path) -> None:
    # A fresh interpreter: in this one torch may already be imported by other tests.
    probe = "import sys, rlar_jax.metrics as m; m.MetricsLogger(sys.argv[1]); print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "a")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False", "opening the TensorBoard writer imported torch"
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "b")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["torch_ok"] is True
    assert _scalars(tmp_path / "b" / "tensorboard", "loss") == [(0, 0.5), (1, 0.25)]


def _scalars(log_dir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of `tag` in the TFRecord event files under `log_dir`."""
    from tensorboardX.proto.event_pb2 import Event

    out = []
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        i = 0
        while i < len(data):
            (n,) = struct.unpack("<Q", data[i:i + 8])
            event = Event.FromString(data[i + 12:i + 12 + n])
            i += 12 + n + 4  # length, its CRC, the record, its CRC
            out += [(event.step, v.simple_value) for v in event.summary.value if v.tag == tag]
    return out


def test_jsonl_records_round_trip(tmp_path: Path) -> None:
    log = MetricsLogger(tmp_path, tensorboard=False)
    log.log({"step": 0, "loss": 0.5, "note": "x"})
    log.log({"step": 1, "loss": float("nan")})
    log.truncate_from(1)
    log.log({"step": 1, "loss": 0.25})
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [0, 1]
    assert rows[0]["loss"] == 0.5 and rows[1]["loss"] == 0.25
