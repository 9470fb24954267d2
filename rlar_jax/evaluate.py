"""`rlar-jax eval`: per-task metrics of a policy (or a training checkpoint) on the held-out split.

Responses are generated greedily (sampling.eval_temperature) with the rollout sampler and scored by task
family, as the planner classifies each task: math accuracy (`math_answer` verifier = 1), code pass@1
(`code_tests`, all tests must pass), translation chrF and BLEU (`translation_chrf` / `translation_bleu`
verifiers, x100, plus sacrebleu corpus scores), and for open-ended tasks (dialogue, instruction, other) a
reward model's mean score and, given a checkpoint, the win rate of its responses against the starting
policy's, compared by that reward model. Verifiers run in the WebAssembly sandbox only.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from rlar_jax.config import ExperimentConfig, TaskSource, load_config, to_dict
from rlar_jax.data import Example, load_eval

log = logging.getLogger(__name__)

VERIFIED_FAMILIES = ("math", "code", "translation")


# ------------------------------------------------------------------------------------------ policy


def find_checkpoint(path: str | Path) -> tuple[Path, int | None]:
    """(checkpoint directory, step or None = latest) for a run dir, its `checkpoints/` or one step's dir."""
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"checkpoint directory not found: {p}")
    if (p / "checkpoints").is_dir():
        return p / "checkpoints", None
    if p.name.isdigit() and (p / "state").exists():
        return p.parent, int(p.name)
    return p, None


def restore_params(policy: Any, cfg: ExperimentConfig, checkpoint: str | Path) -> int:
    """Load a training checkpoint's parameters into `policy.model`; returns the restored step.

    The checkpoint holds the optimizer state too, so the abstract state is built like the trainer's.
    """
    from rlar_jax.checkpoint import Checkpointer
    from rlar_jax.grpo import init_opt_state, make_optimizer

    directory, step = find_checkpoint(checkpoint)
    ckpt = Checkpointer(directory)
    try:
        step = ckpt.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no complete checkpoint step in {directory}")
        o = cfg.optim
        tx = make_optimizer(o.learning_rate, o.warmup_steps, max(cfg.trainer.steps, 1), o.weight_decay,
                            o.b1, o.b2, o.max_grad_norm)
        _, params, _ = nnx.split(policy.model, nnx.Param, ...)
        state, _ = ckpt.restore(step, {"params": params, "opt_state": init_opt_state(tx, params),
                                       "rng": jax.random.key(0)})
    finally:
        ckpt.close()
    nnx.update(policy.model, state["params"])
    return int(step)


def generate_responses(policy: Any, mesh: Any, examples: Sequence[Example], cfg: ExperimentConfig,
                       batch_size: int = 16) -> list[str]:
    """Greedy (eval_temperature) completions, one per example, in batches padded to the mesh's batch size."""
    from rlar_jax.rollout import SamplingConfig, decode_completions, encode_prompts, generate
    from rlar_jax.sharding import BATCH_AXES

    s = cfg.sampling
    eos = tuple(policy.tokenizer.eos_ids)
    sampling = SamplingConfig(max_new_tokens=s.max_new_tokens, temperature=s.eval_temperature, group_size=1,
                              stop_token_ids=eos, prompt_buckets=tuple(s.prompt_buckets))
    shards = int(np.prod([mesh.shape[a] for a in BATCH_AXES if a in mesh.shape]))
    batch = -(-max(batch_size, 1) // shards) * shards  # rows must divide over the batch axes
    out: list[str] = []
    for start in range(0, len(examples), batch):
        chunk = list(examples[start:start + batch])
        padded = chunk + [chunk[0]] * (batch - len(chunk))  # one compiled shape for every batch
        ids = encode_prompts(policy.tokenizer, [list(e.messages) for e in padded])
        rollout = generate(policy.model, ids, sampling, jax.random.key(0), pad_id=policy.tokenizer.pad_id,
                           eos_ids=eos, mesh=mesh)
        out.extend(decode_completions(policy.tokenizer, rollout)[:len(chunk)])
    return out


# ------------------------------------------------------------------------------------------ metrics


def task_family(example: Example) -> str:
    """The family the reward planner assigns to an example (math, code, translation, dialogue, ...)."""
    from rlar_jax.rewards.signature import analyse_query

    return analyse_query(example.query, example.task, example.meta, example.reference).family


def run_verifier(sandbox: Any, verifier_id: str, examples: Sequence[Example], responses: Sequence[str],
                 extra_meta: dict[str, Any] | None = None) -> np.ndarray:
    """Scores of a seed verifier in the sandbox (NaN where it failed), one per response."""
    from rlar_jax.sandbox import load_verifier

    rows = [{"prompt": e.query, "response": r, "reference": e.reference, "meta": {**e.meta, **(extra_meta or {})}}
            for e, r in zip(examples, responses)]
    results = sandbox.score_batch(load_verifier(verifier_id), rows)
    for res in results:
        if not res.ok:
            log.warning("%s failed: %s: %s", verifier_id, res.error_kind, res.message[:200])
    return np.asarray([r.score if r.ok else math.nan for r in results], np.float64)


def _mean(x: np.ndarray, scale: float = 1.0) -> float:
    """Mean with failures (NaN) counted as 0, times `scale`."""
    return float(np.nan_to_num(x, nan=0.0).mean() * scale) if x.size else float("nan")


def verified_metrics(family: str, sandbox: Any, examples: Sequence[Example], responses: Sequence[str]
                     ) -> dict[str, Any]:
    """Metrics of a math, code or translation task (failed verifier calls count as wrong / 0)."""
    if family == "math":
        s = run_verifier(sandbox, "math_answer", examples, responses)
        return {"accuracy": _mean(s >= 0.999), "failed": int(np.isnan(s).sum())}
    if family == "code":
        s = run_verifier(sandbox, "code_tests", examples, responses, {"mode": "all"})
        return {"pass@1": _mean(np.where(np.isnan(s), np.nan, s >= 0.999)), "failed": int(np.isnan(s).sum())}
    if family == "translation":
        import sacrebleu

        chrf = run_verifier(sandbox, "translation_chrf", examples, responses)
        bleu = run_verifier(sandbox, "translation_bleu", examples, responses)
        refs = [[e.reference for e in examples]]
        tgt = str(examples[0].meta.get("language_pair", "")).rpartition("-")[2]
        tokenize = "zh" if tgt == "zh" else "13a"  # sacrebleu's tokenizer for Chinese targets
        return {"chrf": _mean(chrf, 100.0), "bleu": _mean(bleu, 100.0),
                "corpus_chrf": float(sacrebleu.corpus_chrf(list(responses), refs).score),
                "corpus_bleu": float(sacrebleu.corpus_bleu(list(responses), refs, tokenize=tokenize).score),
                "failed": int(np.isnan(chrf).sum() + np.isnan(bleu).sum())}
    raise ValueError(f"no verifier metrics for family {family!r}")


def default_reward_model(example: Example, catalog: Any) -> str | None:
    """The first reward model of the offline planner's plan for the example's task."""
    from rlar_jax.rewards.planner import OfflinePlanner

    plan = OfflinePlanner(catalog).plan(example.query, example.task, example.reference, example.meta)
    return next((c.id for c in plan.components if c.kind == "reward_model"), None)


def win_rate(new: np.ndarray, old: np.ndarray) -> float:
    """Share of items where `new` scores above `old` (ties count 1/2; a NaN side loses, both NaN tie)."""
    a, b = np.nan_to_num(new, nan=-np.inf), np.nan_to_num(old, nan=-np.inf)
    return float(np.mean(np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0)))) if a.size else float("nan")


def reward_model_metrics(model_id: str, scorer: Any, examples: Sequence[Example], responses: Sequence[str],
                         baseline: Sequence[str] | None) -> dict[str, Any]:
    """Mean reward-model score (failures count as 0) and, with baseline responses, the win rate."""
    def score(texts: Sequence[str]) -> np.ndarray:
        vals = scorer([e.query for e in examples], list(texts), [e.reference for e in examples],
                      [dict(e.meta) for e in examples])
        return np.asarray([float(v) for v in vals], np.float64)

    s = score(responses)
    out: dict[str, Any] = {"reward_model": model_id, "rm_score": _mean(s), "failed": int(np.isnan(s).sum())}
    if baseline is not None:
        b = score(baseline)
        out["baseline_rm_score"] = _mean(b)
        out["win_rate"] = win_rate(s, b)
    return out


# ------------------------------------------------------------------------------------------ driver


def _by_task(examples: Sequence[Example]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        groups.setdefault(e.task, []).append(i)
    return groups


def evaluate(cfg: ExperimentConfig, checkpoint: str | Path | None = None, *, reward_model: str | None = None,
             batch_size: int = 16) -> dict[str, Any]:
    """Per-task metrics of the configured policy (restored from `checkpoint` when given) on `load_eval(cfg.data)`.

    reward_model: catalog id scoring every open-ended task (default: the task's `reward_model`, else the
    planner's choice). Returns {"tasks": {task: {family, n, metrics...}}, "checkpoint", "step", ...}.
    """
    from rlar_jax.policy import build_policy, mesh_rules
    from rlar_jax.rewards.catalog import Catalog
    from rlar_jax.sandbox import Sandbox
    from rlar_jax.sharding import MeshConfig, make_mesh

    t0 = time.perf_counter()
    examples = load_eval(cfg.data)
    if not examples:
        raise ValueError("no held-out examples: set data.eval_size (or a task's eval_size) above 0")
    mesh = make_mesh(MeshConfig(cfg.mesh.data, cfg.mesh.fsdp, cfg.mesh.tensor))
    policy = build_policy(cfg.model, mesh, mesh_rules(cfg.mesh.rules))
    groups = _by_task(examples)
    families = {task: task_family(examples[idx[0]]) for task, idx in groups.items()}
    open_ended = [i for task, idx in groups.items() if families[task] not in VERIFIED_FAMILIES for i in idx]
    baseline: dict[int, str] = {}
    step = None
    if checkpoint is not None:
        if open_ended:  # the starting policy's answers, for the win rate
            baseline = dict(zip(open_ended, generate_responses(policy, mesh, [examples[i] for i in open_ended],
                                                               cfg, batch_size)))
        step = restore_params(policy, cfg, checkpoint)
    responses = generate_responses(policy, mesh, examples, cfg, batch_size)
    task_cfg: dict[str, TaskSource] = {s.task: s for s in cfg.data.tasks}
    catalog = Catalog()
    results: dict[str, dict[str, Any]] = {}
    loaded_rms: dict[str, Any] = {}
    with Sandbox() as sandbox:
        for task, idx in groups.items():
            exs, resp = [examples[i] for i in idx], [responses[i] for i in idx]
            fam = families[task]
            row: dict[str, Any] = {"family": fam, "n": len(idx)}
            try:
                if fam in VERIFIED_FAMILIES:
                    row.update(verified_metrics(fam, sandbox, exs, resp))
                else:
                    src = task_cfg.get(task)
                    model_id = reward_model or (src.reward_model if src else None) or default_reward_model(
                        exs[0], catalog)
                    if model_id is None:
                        raise ValueError(f"no reward model for task {task!r}; pass --reward-model")
                    if model_id not in loaded_rms:
                        from rlar_jax.rewards.models.registry import load_reward_model

                        loaded_rms[model_id] = load_reward_model(model_id, catalog=catalog)
                    base = [baseline[i] for i in idx] if baseline else None
                    row.update(reward_model_metrics(model_id, loaded_rms[model_id], exs, resp, base))
            except Exception as e:  # one task's scorer failing must not hide the other tasks' metrics
                log.exception("scoring task %s failed", task)
                row["error"] = f"{type(e).__name__}: {e}"[:500]
            row["mean_response_chars"] = float(np.mean([len(r) for r in resp]))
            results[task] = row
    return {"model": cfg.model.name, "checkpoint": str(checkpoint) if checkpoint else None, "step": step,
            "n": len(examples), "tasks": results, "seconds": round(time.perf_counter() - t0, 2),
            "samples": {task: {"prompt": examples[idx[0]].query[:500], "response": responses[idx[0]][:500]}
                        for task, idx in groups.items()}}


METRIC_ORDER = ("accuracy", "pass@1", "chrf", "bleu", "corpus_chrf", "corpus_bleu", "rm_score",
                "baseline_rm_score", "win_rate", "failed")


def format_table(result: dict[str, Any]) -> str:
    """Plain-text table: one row per task and metric."""
    lines = [f"{'task':<20} {'family':<12} {'n':>5}  {'metric':<18} {'value':>9}"]
    for task, row in result["tasks"].items():
        metrics = [(k, row[k]) for k in METRIC_ORDER if k in row]
        if "error" in row:
            metrics.append(("error", row["error"]))
        for j, (k, v) in enumerate(metrics):
            head = f"{task:<20} {row['family']:<12} {row['n']:>5}" if j == 0 else " " * 39
            value = f"{v:>9.3f}" if isinstance(v, float) else f"{v!s:>9}"
            lines.append(f"{head}  {k:<18} {value}")
    return "\n".join(lines)


def write_results(result: dict[str, Any], out_dir: str | Path, cfg: ExperimentConfig) -> Path:
    """Write `eval.json` (with the config) and `eval.txt` (the table) into `out_dir`; returns the JSON path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "eval.json"
    path.write_text(json.dumps({**result, "config": to_dict(cfg)}, indent=2, sort_keys=True, allow_nan=True))
    (out / "eval.txt").write_text(format_table(result) + "\n")
    return path


def _run(args: argparse.Namespace) -> int:
    from rlar_jax.train_cli import _quiet_libraries

    _quiet_libraries()
    cfg = load_config(args.config, args.overrides)
    result = evaluate(cfg, args.checkpoint, reward_model=args.reward_model, batch_size=args.batch_size)
    path = write_results(result, args.out or cfg.trainer.run_dir, cfg)
    print(format_table(result))
    print(f"wrote {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `eval` command."""
    p = sub.add_parser("eval", help="per-task metrics of a policy or checkpoint on the held-out split",
                       description="Greedy responses on data's held-out split, scored per task family: math "
                                   "accuracy, code pass@1, translation chrF/BLEU, reward-model score and win "
                                   "rate against the starting policy. Writes eval.json and eval.txt.")
    p.add_argument("--config", required=True, help="experiment YAML file (see configs/)")
    p.add_argument("--checkpoint", default=None,
                   help="run dir, its checkpoints/ dir or one step's dir (default: the starting policy)")
    p.add_argument("--reward-model", default=None, help="catalog id scoring open-ended tasks (default: per task)")
    p.add_argument("--out", default=None, help="where eval.json goes (default: trainer.run_dir)")
    p.add_argument("--batch-size", type=int, default=16, help="prompts per generation batch")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides")
    p.set_defaults(func=_run)
