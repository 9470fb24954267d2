"""`rlar-jax eval`: per-task metrics of a policy (or a training checkpoint) on the held-out split.

Responses are generated greedily (sampling.eval_temperature) with the rollout sampler and scored by task
family, as the planner classifies each task: math accuracy (`math_answer` verifier = 1), code pass@1
(`code_tests`, all tests must pass), translation chrF and BLEU (`translation_chrf` / `translation_bleu`
verifiers, x100, plus sacrebleu corpus scores), instruction following with ground-truth constraints
(`meta["constraints"]`: share of constraints met by `format_constraints`, and prompt-level accuracy = all
met), and for open-ended tasks (dialogue, instruction without constraints, other) a reward model's mean
score. Verifiers run in the WebAssembly sandbox only.

Every prompt also gets one primary score (failures count as 0): math accuracy and code pass (0/1),
translation chrF (0-1), the constraint share (0-1) or the reward model's score. Given a checkpoint, the
starting policy answers the same prompts too, and the report adds, per task, overall (prompts pooled) and
macro (tasks averaged), the primary score before and after, the gain and its paired bootstrap 95% CI
(`rlar_jax.stats`), plus the reward model's win rate of new over old responses on open-ended tasks.
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
from rlar_jax.datasets.examples import Example
from rlar_jax.datasets.mixture import load_eval

log = logging.getLogger(__name__)

SOLVED = 0.999  # a verifier score at or above this counts as correct / passed / all constraints met


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
    from rlar_jax.grpo import init_opt_state, optimizer_for
    from rlar_jax.models.lora import trainable_filter

    directory, step = find_checkpoint(checkpoint)
    ckpt = Checkpointer(directory)
    try:
        step = ckpt.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no complete checkpoint step in {directory}")
        tx = optimizer_for(cfg.optim, cfg.trainer.steps)
        _, params, _ = nnx.split(policy.model, trainable_filter(policy.model), ...)  # what the run saved
        state, _ = ckpt.restore(step, {"params": params, "opt_state": init_opt_state(tx, params),
                                       "rng": jax.random.key(0)})
    finally:
        ckpt.close()
    nnx.update(policy.model, state["params"])
    return int(step)


def generate_responses(policy: Any, mesh: Any, examples: Sequence[Example], cfg: ExperimentConfig,
                       batch_size: int = 16) -> list[str]:
    """Greedy (eval_temperature) completions, one per example, in batches padded to the mesh's batch size."""
    from rlar_jax.precision import ComputeCopy
    from rlar_jax.rollout import decode_completions, encode_prompts, generate
    from rlar_jax.sharding import BATCH_AXES

    model = ComputeCopy(policy.model).get()  # compute-dtype weights, cast once for every batch
    sampling = cfg.sampling.held_out(policy.tokenizer.eos_ids)
    shards = int(np.prod([mesh.shape[a] for a in BATCH_AXES if a in mesh.shape]))
    batch = -(-max(batch_size, 1) // shards) * shards  # rows must divide over the batch axes
    out: list[str] = []
    for start in range(0, len(examples), batch):
        chunk = list(examples[start:start + batch])
        padded = chunk + [chunk[0]] * (batch - len(chunk))  # one compiled shape for every batch
        ids = encode_prompts(policy.tokenizer, [list(e.messages) for e in padded])
        rollout = generate(model, ids, sampling, jax.random.key(0), pad_id=policy.tokenizer.pad_id,
                           eos_ids=policy.tokenizer.eos_ids, mesh=mesh)
        out.extend(decode_completions(policy.tokenizer, rollout)[:len(chunk)])
    return out


# ------------------------------------------------------------------------------------------ metrics


def task_family(example: Example) -> str:
    """The family the reward planner assigns to an example (math, code, translation, dialogue, ...)."""
    from rlar_jax.rewards.signature import analyse_query

    return analyse_query(example.query, example.task, example.meta, example.reference).family


def run_verifier(sandbox: Any, verifier_id: str, examples: Sequence[Example], responses: Sequence[str],
                 extra_meta: dict[str, Any] | None = None, metas: Sequence[dict[str, Any]] | None = None
                 ) -> np.ndarray:
    """Scores of a seed verifier in the sandbox (NaN where it failed), one per response. Each row's meta is
    the example's plus `extra_meta`, or `metas[i]` when given."""
    from rlar_jax.sandbox import load_verifier

    if metas is None:
        metas = [{**e.meta, **(extra_meta or {})} for e in examples]
    rows = [{"prompt": e.query, "response": r, "reference": e.reference, "meta": m}
            for e, r, m in zip(examples, responses, metas)]
    results = sandbox.score_batch(load_verifier(verifier_id), rows)
    for res in results:
        if not res.ok:
            log.warning("%s failed: %s: %s", verifier_id, res.error_kind, res.message[:200])
    return np.asarray([r.score if r.ok else math.nan for r in results], np.float64)


def _mean(x: np.ndarray, scale: float = 1.0) -> float:
    """Mean with failures (NaN) counted as 0, times `scale`."""
    return float(np.nan_to_num(x, nan=0.0).mean() * scale) if x.size else float("nan")


def has_constraints(examples: Sequence[Example]) -> bool:
    """Whether every example carries ground-truth format constraints (meta["constraints"], a non-empty dict)."""
    return bool(examples) and all(isinstance(e.meta.get("constraints"), dict) and e.meta["constraints"]
                                  for e in examples)


def verified_scores(family: str, sandbox: Any, examples: Sequence[Example], responses: Sequence[str]
                    ) -> tuple[np.ndarray, dict[str, Any]]:
    """(per-prompt primary score in [0, 1], failures as 0; the task's metrics) of a math, code, translation
    or instruction (with meta["constraints"]) task, or of any family whose verifier declares it in EVAL_FOR
    (`rlar_jax.rewards.families`; its mean score). Failed verifier calls count as wrong / 0."""
    from rlar_jax.rewards.families import eval_verifiers

    vid = eval_verifiers().get(family)
    if vid is None:
        raise ValueError(f"no verifier metrics for family {family!r}; families with a held-out verifier: "
                         f"{list(eval_verifiers())}")
    if family == "math":
        s = run_verifier(sandbox, vid, examples, responses)
        primary = (s >= SOLVED).astype(np.float64)  # NaN compares False: a failure is wrong
        return primary, {"accuracy": _mean(primary), "failed": int(np.isnan(s).sum())}
    if family == "code":
        s = run_verifier(sandbox, vid, examples, responses, {"mode": "all"})
        primary = (s >= SOLVED).astype(np.float64)
        return primary, {"pass@1": _mean(primary), "failed": int(np.isnan(s).sum())}
    if family == "translation":
        import sacrebleu

        chrf = run_verifier(sandbox, vid, examples, responses)
        bleu = run_verifier(sandbox, "translation_bleu", examples, responses)  # reported next to chrF
        refs = [[e.reference for e in examples]]
        tgt = str(examples[0].meta.get("language_pair", "")).rpartition("-")[2]
        tokenize = "zh" if tgt == "zh" else "13a"  # sacrebleu's tokenizer for Chinese targets
        return np.nan_to_num(chrf, nan=0.0), {
            "chrf": _mean(chrf, 100.0), "bleu": _mean(bleu, 100.0),
            "corpus_chrf": float(sacrebleu.corpus_chrf(list(responses), refs).score),
            "corpus_bleu": float(sacrebleu.corpus_bleu(list(responses), refs, tokenize=tokenize).score),
            "failed": int(np.isnan(chrf).sum() + np.isnan(bleu).sum())}
    if family == "instruction":
        from rlar_jax.rewards.constraints import constraints_to_meta

        if not has_constraints(examples):
            raise ValueError("instruction metrics need meta['constraints'] on every example")
        metas = [{**constraints_to_meta(e.meta["constraints"]), "mode": "fraction"} for e in examples]
        s = run_verifier(sandbox, vid, examples, responses, metas=metas)
        primary = np.nan_to_num(s, nan=0.0)
        return primary, {"constraint_fraction": _mean(primary), "prompt_accuracy": _mean(primary >= SOLVED),
                         "failed": int(np.isnan(s).sum())}
    s = run_verifier(sandbox, vid, examples, responses)  # a family without metrics of its own: the mean score
    primary = np.nan_to_num(s, nan=0.0)
    return primary, {"score": _mean(primary), "failed": int(np.isnan(s).sum())}


def verified_metrics(family: str, sandbox: Any, examples: Sequence[Example], responses: Sequence[str]
                     ) -> dict[str, Any]:
    """Metrics of a math, code, translation or instruction task (failed verifier calls count as wrong / 0)."""
    return verified_scores(family, sandbox, examples, responses)[1]


def default_reward_model(example: Example, catalog: Any) -> str | None:
    """The first reward model of the offline planner's plan for the example's task."""
    from rlar_jax.rewards.planner import OfflinePlanner

    plan = OfflinePlanner(catalog).plan(example.query, example.task, example.reference, example.meta)
    return next((c.id for c in plan.components if c.kind == "reward_model"), None)


def win_rate(new: np.ndarray, old: np.ndarray) -> float:
    """Share of items where `new` scores above `old` (ties count 1/2; a NaN side loses, both NaN tie)."""
    a, b = np.nan_to_num(new, nan=-np.inf), np.nan_to_num(old, nan=-np.inf)
    return float(np.mean(np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0)))) if a.size else float("nan")


def reward_model_scores(scorer: Any, examples: Sequence[Example], responses: Sequence[str]) -> np.ndarray:
    """The reward model's score of every response (NaN where it failed)."""
    vals = scorer([e.query for e in examples], list(responses), [e.reference for e in examples],
                  [dict(e.meta) for e in examples])
    return np.asarray([float(v) for v in vals], np.float64)


# ------------------------------------------------------------------------------------------ driver


def pooled_scores(scores: np.ndarray, tasks: Sequence[str]) -> dict[str, dict[str, Any]]:
    """{"overall": mean over all prompts, "macro": mean of the task means (with several tasks)}, with n."""
    labels = np.asarray(tasks, dtype=object)
    out = {"overall": {"n": int(scores.size), "score": float(scores.mean())}}
    means = [float(scores[labels == t].mean()) for t in dict.fromkeys(tasks)]
    if len(means) > 1:
        out["macro"] = {"n": int(scores.size), "score": float(np.mean(means))}
    return out


def _by_task(examples: Sequence[Example]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        groups.setdefault(e.task, []).append(i)
    return groups


class _TaskScorer:
    """Scores one task's responses by its family: (per-prompt primary score, failures as 0; metrics)."""

    def __init__(self, sandbox: Any, reward_model: str | None, task_cfg: dict[str, TaskSource]):
        from rlar_jax.rewards.catalog import Catalog

        self.sandbox, self.reward_model, self.task_cfg = sandbox, reward_model, task_cfg
        self.catalog = Catalog()
        self.loaded: dict[str, Any] = {}

    def method(self, family: str, examples: Sequence[Example]) -> str:
        """The scoring method: "verifier" (the family has a held-out verifier; instruction only with
        meta["constraints"]) or "reward_model"."""
        from rlar_jax.rewards.families import eval_verifiers

        verified = family in eval_verifiers() and (family != "instruction" or has_constraints(examples))
        return "verifier" if verified else "reward_model"

    def model_for(self, task: str, examples: Sequence[Example]) -> tuple[str, Any]:
        """(catalog id, loaded scorer) of the reward model scoring an open-ended task."""
        src = self.task_cfg.get(task)
        model_id = self.reward_model or (src.reward_model if src else None) or default_reward_model(
            examples[0], self.catalog)
        if model_id is None:
            raise ValueError(f"no reward model for task {task!r}; pass --reward-model")
        if model_id not in self.loaded:
            from rlar_jax.rewards.models.registry import load_reward_model

            self.loaded[model_id] = load_reward_model(model_id, catalog=self.catalog)
        return model_id, self.loaded[model_id]

    def __call__(self, task: str, family: str, examples: Sequence[Example], responses: Sequence[str]
                 ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """(primary scores; the reward model's raw scores, empty for verified tasks; metrics with `score`)."""
        if self.method(family, examples) == "verifier":
            primary, metrics = verified_scores(family, self.sandbox, examples, responses)
            raw = np.empty(0)
        else:
            model_id, scorer = self.model_for(task, examples)
            raw = reward_model_scores(scorer, examples, responses)
            primary = np.nan_to_num(raw, nan=0.0)
            metrics = {"reward_model": model_id, "rm_score": _mean(raw), "failed": int(np.isnan(raw).sum())}
        return primary, raw, {"score": _mean(primary), **metrics}


def evaluate(cfg: ExperimentConfig, checkpoint: str | Path | None = None, *, reward_model: str | None = None,
             batch_size: int = 16) -> dict[str, Any]:
    """Per-task metrics of the configured policy (restored from `checkpoint` when given) on `load_eval(cfg.data)`.

    With a checkpoint the starting policy answers the same prompts first: its metrics go under each task's
    `baseline`, and `gain` holds the before/after table of primary scores with paired bootstrap CIs.
    reward_model: catalog id scoring every open-ended task (default: the task's `reward_model`, else the
    planner's choice). Returns {"tasks": {task: {family, method, n, score, metrics...}}, "overall",
    "gain" (with a checkpoint), "scores" (per prompt), "checkpoint", "step", ...}.
    """
    from rlar_jax.heldout import HeldOutScores, gain_report
    from rlar_jax.policy import build_policy, mesh_rules
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
    baseline: list[str] | None = None
    step = None
    if checkpoint is not None:  # the starting policy's answers to the same prompts
        baseline = generate_responses(policy, mesh, examples, cfg, batch_size)
        step = restore_params(policy, cfg, checkpoint)
    responses = generate_responses(policy, mesh, examples, cfg, batch_size)
    after = np.full(len(examples), np.nan)
    before = np.full(len(examples), np.nan)
    results: dict[str, dict[str, Any]] = {}
    with Sandbox() as sandbox:
        scorer = _TaskScorer(sandbox, reward_model, {s.task: s for s in cfg.data.tasks})
        for task, idx in groups.items():
            exs, resp = [examples[i] for i in idx], [responses[i] for i in idx]
            fam = families[task]
            row: dict[str, Any] = {"family": fam, "method": scorer.method(fam, exs), "n": len(idx)}
            try:
                primary, raw, metrics = scorer(task, fam, exs, resp)
                row.update(metrics)
                after[idx] = primary
                if baseline is not None:
                    b_primary, b_raw, b_metrics = scorer(task, fam, exs, [baseline[i] for i in idx])
                    row["baseline"] = b_metrics
                    before[idx] = b_primary
                    if raw.size:  # reward model: old and new responses compared by it
                        row["baseline_rm_score"] = b_metrics["rm_score"]
                        row["win_rate"] = win_rate(raw, b_raw)
            except Exception as e:  # one task's scorer failing must not hide the other tasks' metrics
                log.exception("scoring task %s failed", task)
                row["error"] = f"{type(e).__name__}: {e}"[:500]
            row["mean_response_chars"] = float(np.mean([len(r) for r in resp]))
            results[task] = row
    # Tasks whose scorer failed are left out of the overall numbers (their scores are unknown, not 0).
    ok = [i for task, idx in groups.items() if "error" not in results[task] for i in idx]
    uids, tasks = [examples[i].uid for i in ok], [examples[i].task for i in ok]
    out: dict[str, Any] = {"model": cfg.model.name, "checkpoint": str(checkpoint) if checkpoint else None,
                           "step": step, "n": len(examples), "tasks": results}
    if ok:
        out["overall"] = pooled_scores(after[ok], tasks)
    scores: dict[str, Any] = {"uid": uids, "task": tasks}
    if baseline is not None and ok:
        b, a = HeldOutScores(uids, tasks, before[ok]), HeldOutScores(uids, tasks, after[ok])
        out["gain"] = gain_report(b, a, seed=cfg.trainer.seed)
        scores.update(before=before[ok].tolist(), after=after[ok].tolist())
    else:
        scores["score"] = after[ok].tolist()
    out["scores"] = scores
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["samples"] = {task: {"prompt": examples[idx[0]].query[:500], "response": responses[idx[0]][:500]}
                      for task, idx in groups.items()}
    return out


METRIC_ORDER = ("score", "accuracy", "pass@1", "chrf", "bleu", "corpus_chrf", "corpus_bleu", "constraint_fraction",
                "prompt_accuracy", "rm_score", "baseline_rm_score", "win_rate", "failed")


def format_table(result: dict[str, Any]) -> str:
    """Plain-text tables: one row per task and metric (the evaluated policy), then, with a checkpoint, the
    before/after table of primary scores with the gain's confidence interval."""
    from rlar_jax.heldout import format_report

    lines = [f"{'task':<20} {'family':<12} {'n':>5}  {'metric':<20} {'value':>9}"]
    for task, row in result["tasks"].items():
        metrics = [(k, row[k]) for k in METRIC_ORDER if k in row]
        if "error" in row:
            metrics.append(("error", row["error"]))
        for j, (k, v) in enumerate(metrics):
            head = f"{task:<20} {row['family']:<12} {row['n']:>5}" if j == 0 else " " * 39
            value = f"{v:>9.3f}" if isinstance(v, float) else f"{v!s:>9}"
            lines.append(f"{head}  {k:<20} {value}")
    for name, row in result.get("overall", {}).items():
        lines.append(f"{name:<20} {'':<12} {row['n']:>5}  {'score':<20} {row['score']:>9.3f}")
    if "gain" in result:
        lines += ["", "primary score, starting policy (before) vs checkpoint (after):", format_report(result["gain"])]
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
    if args.checkpoint is not None:
        find_checkpoint(args.checkpoint)  # a missing run fails before the policy is built and answers
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
