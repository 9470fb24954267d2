"""Sources of the WebAssembly guest that runs verifiers.

`verifier_guest.py` is not imported by the host: it is compiled into a component by componentize-py
(see `rlar_jax.sandbox.build`). The WIT world below is its interface; keeping it here as text (rather
than a `.wit` data file) means it ships with the package like any other Python source.
"""

from __future__ import annotations

from pathlib import Path

GUEST_DIR = Path(__file__).resolve().parent
GUEST_MODULE = "verifier_guest"
WORLD = "verifier"

# Single calls report failures as JSON objects `{score, kind, message, traceback, output, seconds}`;
# `score` returns a bare f64 only on the fast path (valid score, no captured output). Batches cross as
# packed text both ways (see `verifier_guest.WitWorld.score_batch` and `rlar_jax.sandbox.packing`).
WIT = """\
package rlar:verifier;

world verifier {
  /// Compile and run a verifier's source once; err is a JSON report.
  export define: func(source: string, output-cap: u32) -> result<_, string>;
  /// The defined verifier's module-level CASES as JSON; err is a JSON report.
  export cases: func() -> result<string, string>;
  /// ok: a valid score and no captured output; err: a JSON report (failure, or score plus output).
  export score: func(prompt: string, response: string, reference: string, meta-json: string) -> result<f64, string>;
  /// Packed rows (distinct texts concatenated + an index layout) -> per-row scores, seconds, reports.
  export score-batch: func(texts: string, layout: string) -> string;
}
"""


def guest_sources() -> dict[str, str]:
    """File name -> text of every file that goes into the guest build (the cache key hashes these)."""
    return {
        "verifier.wit": WIT,
        f"{GUEST_MODULE}.py": (GUEST_DIR / f"{GUEST_MODULE}.py").read_text(encoding="utf-8"),
    }
