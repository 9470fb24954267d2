"""Verifier sandbox throughput: the math_answer verifier on GSM8K rationales.

Modes: (a) the WebAssembly sandbox, single calls and batches (of distinct rows, and GRPO-shaped: 8
responses per prompt), 1 and 2 processes; (b) subprocess per
call (`python -I -S -c`, the usual cheap isolation); (c) bare in-process Python (no isolation, for
reference); plus the cold start of a never-seen verifier in a warm sandbox.

Run: .venv/bin/python bench/sandbox.py [--seconds 2]. Ends with one JSON line
(ours = sandbox single calls/s in one process, peer = subprocess-per-call calls/s).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlar_jax.datasets.readers import read_text  # noqa: E402
from rlar_jax.datasets.registry import bundled_file  # noqa: E402
from rlar_jax.sandbox import Limits, Sandbox, SandboxPool, load_verifier  # noqa: E402
from rlar_jax.sandbox.build import ensure_guest  # noqa: E402

DATA = bundled_file("gsm8k", "test")
BATCH = 256


def make_rows(n: int = 1000) -> list[dict]:
    """GSM8K test rationales as responses; every other one with a corrupted final answer."""
    rng = random.Random(0)
    rows = []
    for i, line in enumerate(read_text(DATA).splitlines()[:n]):
        r = json.loads(line)
        response = r["answer"]
        if i % 2:
            body, final = response.rsplit("####", 1)
            response = f"{body}#### {int(final.strip().replace(',', '')) + rng.randint(1, 9)}"
        rows.append(dict(prompt=r["question"], response=response, reference=r["answer"], meta={}))
    return rows


def make_group_rows(prompts: int = 128, group: int = 8) -> list[dict]:
    """GRPO-shaped rows: each question's prompt and reference shared by `group` responses (final answers
    off by 0..group-1), so a batch carries each prompt and reference text once per group."""
    rows = []
    for base in make_rows(prompts * 2)[::2]:  # the uncorrupted rationales
        body, final = base["response"].rsplit("####", 1)
        for k in range(group):
            rows.append(dict(base, response=f"{body}#### {int(final.strip().replace(',', '')) + k}"))
    return rows


def _timed(fn, seconds: float) -> tuple[int, float, float]:
    """Call fn() (which returns how many items it did) until `seconds` pass; (items, wall s, CPU s).

    CPU time is this process's own, so it shows the cost per call even when other work shares the cores.
    """
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        done += fn()
    return done, time.perf_counter() - start, time.process_time() - cpu


def sandbox_rates(sb: Sandbox, source: str, rows: list[dict], seconds: float) -> tuple[float, float, float, float]:
    """(single calls/s, batched items/s, CPU us per single call, CPU us per batched item) in this process."""
    sb.score_batch(source, rows[:BATCH])  # warm: instance defined, fuel per row measured
    it = iter(range(10**12))

    def single() -> int:
        row = rows[next(it) % len(rows)]
        res = sb.score(source, row["prompt"], row["response"], row["reference"], row["meta"])
        assert res.ok, res
        return 1

    def batch() -> int:
        k = next(it) % (len(rows) // BATCH)
        out = sb.score_batch(source, rows[k * BATCH:(k + 1) * BATCH])
        assert all(r.ok for r in out)
        return len(out)

    n1, t1, c1 = _timed(single, seconds)
    n2, t2, c2 = _timed(batch, seconds)
    return n1 / t1, n2 / t2, c1 / n1 * 1e6, c2 / n2 * 1e6


def batch_rate(sb: Sandbox, source: str, rows: list[dict], seconds: float) -> float:
    """Batched items/s in this process over `rows`, BATCH rows per call."""
    sb.score_batch(source, rows[:BATCH])
    it = iter(range(10**12))

    def batch() -> int:
        k = next(it) % (len(rows) // BATCH)
        return len(sb.score_batch(source, rows[k * BATCH:(k + 1) * BATCH]))

    n, t, _ = _timed(batch, seconds)
    return n / t


def _worker(barrier, queue, seconds: float) -> None:
    rows = make_rows()
    source = load_verifier("math_answer")
    with Sandbox(Limits()) as sb:
        sb.score_batch(source, rows[:BATCH])
        barrier.wait()
        queue.put(sandbox_rates(sb, source, rows, seconds)[:2])


def two_process_rates(seconds: float) -> tuple[float, float]:
    """Aggregate (single calls/s, batched items/s) of two independent processes running at once."""
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(barrier, queue, seconds)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return sum(r[0] for r in results), sum(r[1] for r in results)


def pool_rate(source: str, rows: list[dict], seconds: float) -> float:
    """Batched items/s through SandboxPool(2) (includes pickling rows to the workers)."""
    with SandboxPool(2) as pool:
        pool.score_batch(source, rows[:512])
        n, t, _ = _timed(lambda: len(pool.score_batch(source, rows[:1024])), seconds)
    return n / t


def subprocess_rate(source: str, rows: list[dict], calls: int) -> float:
    """Calls/s with one fresh `python -I -S -c` process per call (no real isolation, but a new interpreter)."""
    code = source + "\nimport sys, json\na = json.loads(sys.stdin.read())\nprint(score(*a))\n"
    start = time.perf_counter()
    for i in range(calls):
        row = rows[i % len(rows)]
        out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True,
                             input=json.dumps([row["prompt"], row["response"], row["reference"], row["meta"]]))
        assert float(out.stdout) in (0.0, 1.0)
    return calls / (time.perf_counter() - start)


def bare_rate(source: str, rows: list[dict], seconds: float) -> tuple[float, float]:
    """(calls/s, CPU us per call) of the verifier exec'd directly in this interpreter (no isolation)."""
    ns: dict = {"__name__": "bare_verifier"}
    exec(compile(source, "<verifier>", "exec"), ns)
    fn = ns["score"]
    it = iter(range(10**12))

    def call() -> int:
        row = rows[next(it) % len(rows)]
        fn(row["prompt"], row["response"], row["reference"], row["meta"])
        return 1

    n, t, c = _timed(call, seconds)
    return n / t, c / n * 1e6


def cold_starts(sb: Sandbox, source: str, rows: list[dict], n: int = 10) -> float:
    """Median seconds for the first call of a never-seen verifier (instantiate + define + call)."""
    times = []
    row = rows[0]
    for i in range(n):
        fresh = source + f"\n# variant {i} {time.time_ns()}\n"
        start = time.perf_counter()
        assert sb.score(fresh, row["prompt"], row["response"], row["reference"], row["meta"]).ok
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per mode")
    parser.add_argument("--subprocess-calls", type=int, default=30)
    args = parser.parse_args()

    build = ensure_guest()
    rows = make_rows()
    source = load_verifier("math_answer")
    t0 = time.perf_counter()
    sb = Sandbox()
    sandbox_start = time.perf_counter() - t0
    single1, batch1, single_cpu, batch_cpu = sandbox_rates(sb, source, rows, args.seconds)
    grouped = batch_rate(sb, source, make_group_rows(), args.seconds)
    cold = cold_starts(sb, source, rows)
    sb.close()
    single2, batch2 = two_process_rates(args.seconds)
    pooled = pool_rate(source, rows, args.seconds)
    sub = subprocess_rate(source, rows, args.subprocess_calls)
    bare, bare_cpu = bare_rate(source, rows, args.seconds)

    table = [
        ("sandbox, single calls, 1 process", single1, single_cpu),
        (f"sandbox, batches of {BATCH}, 1 process", batch1, batch_cpu),
        ("  same, GRPO groups (8 responses per prompt)", grouped, None),
        ("sandbox, single calls, 2 processes (aggregate)", single2, None),
        (f"sandbox, batches of {BATCH}, 2 processes (aggregate)", batch2, None),
        ("SandboxPool(2).score_batch, 1024 rows", pooled, None),
        ("subprocess per call (python -I -S -c)", sub, None),
        ("bare in-process Python (no isolation)", bare, bare_cpu),
    ]
    print(f"math_answer verifier on GSM8K rationales; guest {build.path.name}; Sandbox() start "
          f"{sandbox_start * 1e3:.1f} ms; new-verifier cold start (median of 10) {cold * 1e3:.2f} ms\n")
    print(f"{'mode':<52} {'calls/s':>12} {'us/call':>10} {'CPU us/call':>12} {'x subprocess':>13}")
    for name, rate, cpu in table:
        cpu_text = f"{cpu:.1f}" if cpu is not None else "-"
        print(f"{name:<52} {rate:>12,.0f} {1e6 / rate:>10.1f} {cpu_text:>12} {rate / sub:>13.0f}")
    print(f"(host load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs while measuring)")
    print()
    for goal, ok in [(f"sandbox single >= 200x subprocess ({single1 / sub:.0f}x)", single1 >= 200 * sub),
                     (f">= 10k single calls/s per process ({single1:,.0f})", single1 >= 10_000),
                     (f">= 100k batched items/s per process ({batch1:,.0f})", batch1 >= 100_000)]:
        print(f"goal {'met    ' if ok else 'NOT met'}: {goal}")
    print(json.dumps({"bench": "sandbox", "ours": round(single1, 1), "peer": round(sub, 2), "unit": "calls/s",
                      "ratio": round(single1 / sub, 1)}))


if __name__ == "__main__":
    main()
