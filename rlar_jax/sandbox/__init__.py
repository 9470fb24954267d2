"""WebAssembly sandbox for programmatic verifiers.

Verifier source text never runs in the host interpreter: it is exec'd inside a CPython guest compiled
to a WebAssembly component and run by wasmtime with fuel, an epoch deadline, a memory cap and a wasm
stack cap, and without file system, network, processes or environment. The host trusts no byte the
guest sends back (`rlar_jax.sandbox.reports`), caps the guest memory of all its instances together
(`Limits.total_memory_bytes`), and audits that a verifier's scores depend only on their own row
(`rlar_jax.sandbox.audit`).
"""

from rlar_jax.sandbox.sources import load_verifier, seed_verifiers, source_sha256
from rlar_jax.sandbox.limits import Limits, ScoreResult, ValidationReport
from rlar_jax.sandbox.pool import SandboxPool
from rlar_jax.sandbox.runtime import Sandbox

__all__ = [
    "Limits", "ScoreResult", "ValidationReport", "Sandbox", "SandboxPool",
    "source_sha256", "seed_verifiers", "load_verifier",
]
