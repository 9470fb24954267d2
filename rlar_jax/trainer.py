"""The GRPO loop: prompts → rollout → rewards → update, with checkpoints, metrics and evaluation.

Every process runs this same program. Each takes its own slice of the step's prompts, scores its own
rollouts on its own CPUs, and the rewards enter the jitted update as one globally sharded array.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from rlar_jax.advantages import get_advantage
from rlar_jax.checkpoint import Checkpointer
from rlar_jax.config import ExperimentConfig, to_dict
from rlar_jax.datasets.examples import Example, batch_at
from rlar_jax.datasets.mixture import load_eval, load_train
from rlar_jax.grpo import init_opt_state, make_train_step, optimizer_for
from rlar_jax.grpo_config import GRPOConfig
from rlar_jax.heldout import HeldOutScores, eval_slice, format_report, gain_report, score_prompts
from rlar_jax.host_memory import release_freed_memory
from rlar_jax.live_groups import LiveGroups
from rlar_jax.metrics import MetricsLogger, plot_curves
from rlar_jax.models.logprobs import LOGPROB_CHUNK, completion_logprobs
from rlar_jax.models.lora import reference_params, trainable_filter
from rlar_jax.policy import build_policy, mesh_rules, param_count
from rlar_jax.precision import ComputeCopy, warn_if_lr_too_small
from rlar_jax.rewards.base import RewardFn, check_rewards
from rlar_jax.rewards.system import describe
from rlar_jax.rollout import Rollout, SamplingConfig, decode_completions, encode_prompts, generate
from rlar_jax.sharding import (BATCH_AXES, MeshConfig, gather, gather_json, host_local, initialize_distributed,
                              make_mesh, to_global)

log = logging.getLogger(__name__)


def make_logprob_fn(temperature: float, chunk: int = LOGPROB_CHUNK):
    """Per-token log-probs and entropy of the completion part of `batch["tokens"]` under the policy.

    Logits are divided by the sampling temperature (as TRL does), so the ratio against the sampler's
    log-probs is exactly 1 before the first update.
    """

    def logprob_fn(model: nnx.Module, batch: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array]:
        return completion_logprobs(model, batch["tokens"], batch["attn_mask"], batch["completion_mask"].shape[1],
                                   temperature, chunk)

    return logprob_fn


def grpo_config(cfg: ExperimentConfig) -> GRPOConfig:
    """The GRPO objective of an experiment: its loss section and the sampling settings the loss reads."""
    return GRPOConfig.from_sections(cfg.loss, cfg.sampling)


def build_optimizer(cfg: ExperimentConfig) -> optax.GradientTransformation:
    """The experiment's AdamW (optim section) over trainer.steps updates."""
    return optimizer_for(cfg.optim, cfg.trainer.steps)


@dataclasses.dataclass
class _StepBatch:
    """One step's rollout and, when rewards overlap, the pending scoring of it."""

    rollout: Rollout
    samples: list[Example]
    texts: list[str]
    timings: dict[str, float]
    scoring: Future | None = None


class Trainer:
    """Runs one experiment. `reward_fn` defaults to the configured reward system; `on_step_end` hooks see
    (and may extend) each step's metrics record."""

    def __init__(self, cfg: ExperimentConfig, reward_fn: RewardFn | None = None,
                 on_step_end: Sequence[Callable[[dict[str, Any]], None]] = ()):
        self.cfg = cfg
        # Called with each step's metrics record before it is logged; a hook may add keys to it.
        self.on_step_end = list(on_step_end)
        d = cfg.distributed
        initialize_distributed(d.coordinator, d.num_processes, d.process_id)
        self.is_main = jax.process_index() == 0
        self.mesh = make_mesh(MeshConfig(cfg.mesh.data, cfg.mesh.fsdp, cfg.mesh.tensor))
        self.policy = build_policy(cfg.model, self.mesh, mesh_rules(cfg.mesh.rules))
        self.sampler = ComputeCopy(self.policy.model)  # rollouts and evaluation sample with this
        warn_if_lr_too_small(self.policy.model, cfg.optim.learning_rate)
        self.run_dir = Path(cfg.trainer.run_dir)
        self.reward_fn = reward_fn if reward_fn is not None else self._default_reward_fn()
        from rlar_jax.rewards.factory import eval_reward_fn

        self.eval_reward_fn = eval_reward_fn(self.reward_fn)
        s = cfg.sampling
        self.group_size = s.group_size
        eos = tuple(self.policy.tokenizer.eos_ids)
        self.sampling, self.eval_sampling = s.rollout(eos), s.held_out(eos)
        self.grpo = grpo_config(cfg)
        self.tx = build_optimizer(cfg)
        n_proc = jax.process_count()
        if cfg.trainer.prompts_per_step % n_proc:
            raise ValueError(f"trainer.prompts_per_step ({cfg.trainer.prompts_per_step}) must divide by the "
                             f"number of processes ({n_proc})")
        self.local_prompts = cfg.trainer.prompts_per_step // n_proc
        rows = cfg.trainer.prompts_per_step * s.group_size
        mb = cfg.trainer.micro_batch_size or rows
        if rows % mb:
            raise ValueError(f"trainer.micro_batch_size ({mb}) must divide prompts_per_step x group_size ({rows})")
        self.logprob_fn = make_logprob_fn(s.temperature)
        # What an update changes: every parameter, or only the LoRA adapters (the base rides along in `rest`).
        self.trainable = trainable_filter(self.policy.model)
        graphdef, _, _ = nnx.split(self.policy.model, self.trainable, ...)
        self.graphdef = graphdef
        self.step_fn = make_train_step(graphdef, self.grpo, self.tx, self.logprob_fn, rows // mb)
        self._rows, self._micro_rows = rows, mb
        self._step_fns = {rows // mb: self.step_fn}  # micro-batch count -> train step
        self.live_groups = (LiveGroups(self.grpo, rows, self.mesh) if cfg.trainer.drop_zero_advantage_groups
                            and self.grpo.can_drop_zero_advantage_rows else None)
        self.ref_state = None
        if self.grpo.needs_reference:  # the reference model exists only when the KL term is on
            trained = nnx.state(self.policy.model, self.trainable)
            # Under LoRA the reference is the base itself: the same model with zero adapters, no weight copy.
            self.ref_state = (reference_params(trained) if self.trainable is not nnx.Param
                              else jax.tree.map(jnp.copy, trained))
        dc = cfg.data
        self.train_examples = load_train(dc)
        self.eval_examples = load_eval(dc)
        # One thread: scoring calls never run concurrently with each other, only with the device work.
        self._scorer = ThreadPoolExecutor(1, thread_name_prefix="rlar-rewards") if cfg.trainer.overlap_rewards else None

    # ------------------------------------------------------------------------------------ rewards
    def _default_reward_fn(self) -> RewardFn:
        from rlar_jax.rewards.factory import build_reward_fn

        return build_reward_fn(self.cfg.rewards, self.run_dir)

    # ------------------------------------------------------------------------------------ rollout
    def _rollout(self, examples: Sequence[Example], sampling: SamplingConfig, key: jax.Array
                 ) -> tuple[Rollout, list[str], dict[str, float]]:
        timings: dict[str, float] = {}
        prompt_ids = encode_prompts(self.policy.tokenizer, [list(e.messages) for e in examples])
        rollout = generate(self.sampler.get(), prompt_ids, sampling, key, pad_id=self.policy.tokenizer.pad_id,
                           eos_ids=tuple(self.policy.tokenizer.eos_ids), mesh=self.mesh, timings=timings)
        texts = decode_completions(self.policy.tokenizer, rollout, self.mesh)
        release_freed_memory()  # the prefill and decode workspaces: without this the process keeps their peak
        return rollout, texts, timings

    def _score(self, examples: Sequence[Example], texts: list[str]) -> tuple[np.ndarray, list[dict], float]:
        t0 = time.perf_counter()
        rewards, provenance = self.reward_fn.score(examples, texts)
        rewards = check_rewards(rewards, len(texts), type(self.reward_fn).__name__)
        return rewards, provenance, time.perf_counter() - t0

    def _begin_step(self, step: int, position: int, rng: jax.Array) -> _StepBatch:
        """Roll out step `step`'s prompts with the current params; start scoring them if rewards overlap."""
        examples = batch_at(self.train_examples, position + jax.process_index() * self.local_prompts,
                                     self.local_prompts)
        t0 = time.perf_counter()
        rollout, texts, timings = self._rollout(examples, self.sampling, jax.random.fold_in(rng, step))
        timings["rollout"] = time.perf_counter() - t0
        samples = [e for e in examples for _ in range(self.group_size)]
        batch = _StepBatch(rollout, samples, texts, timings)
        if self._scorer is not None:
            batch.scoring = self._scorer.submit(self._score, samples, texts)
        return batch

    def _rewards(self, batch: _StepBatch) -> tuple[np.ndarray, list[dict]]:
        """The batch's rewards; `reward_wait` in its timings is the part of scoring the loop waited for."""
        t0 = time.perf_counter()
        rewards, provenance, seconds = (batch.scoring.result() if batch.scoring is not None
                                        else self._score(batch.samples, batch.texts))
        batch.timings["reward"] = seconds
        batch.timings["reward_wait"] = time.perf_counter() - t0
        return rewards, provenance

    def evaluate(self, examples: Sequence[Example], batch: int | None = None) -> HeldOutScores:
        """Per-prompt held-out metric of `examples` (greedy by default), split across processes and gathered;
        `.metrics()` gives the means overall and per task."""
        shards = int(np.prod([self.mesh.shape[a] for a in BATCH_AXES if a in self.mesh.shape]))
        multiple = shards // math.gcd(shards, jax.process_count())  # global rows must divide over the batch axes

        def respond(chunk: list[Example]) -> list[str]:
            padded = chunk + [chunk[0]] * (-len(chunk) % multiple)
            return self._rollout(padded, self.eval_sampling, jax.random.key(0))[1][:len(chunk)]

        def score(chunk: list[Example], texts: list[str]) -> np.ndarray:
            def run() -> np.ndarray:
                return check_rewards(self.eval_reward_fn.score(chunk, texts)[0], len(texts), "held-out metric")

            # On the scoring thread when there is one: scoring calls never run concurrently.
            return self._scorer.submit(run).result() if self._scorer is not None else run()

        return score_prompts(examples, respond, score, batch or self.cfg.trainer.eval_batch_size)

    def _slice_metrics(self, indices: list[int], full: HeldOutScores | None) -> dict[str, float | int]:
        """eval/... metrics of the periodic slice: taken from `full` (scores of every held-out prompt under
        the current params) when given, otherwise generated and scored now."""
        scores = full.subset(indices) if full is not None else self.evaluate([self.eval_examples[i] for i in indices])
        return scores.metrics()

    # ------------------------------------------------------------------------------------ one step
    def _train_batch(self, rollout: Rollout, rewards_local: np.ndarray) -> tuple[dict[str, jax.Array], jax.Array]:
        rewards = to_global(rewards_local, self.mesh)
        estimator = jax.jit(get_advantage(self.grpo.advantage_estimator), static_argnums=(1, 2))
        adv, valid = estimator(rewards, self.group_size, self.grpo.scale_rewards)
        tokens = jnp.concatenate([rollout.prompt_ids, rollout.completion_ids], axis=1)
        attn = jnp.concatenate([rollout.prompt_mask, rollout.completion_mask], axis=1)
        batch = {"tokens": tokens, "attn_mask": attn, "completion_mask": rollout.completion_mask,
                 "old_logp": rollout.logprobs, "sampler_logp": rollout.logprobs, "advantages": adv,
                 "valid": valid, "truncated": rollout.truncated}
        if self.grpo.rollout_is != "none":
            # The ratio's old policy is then the trainer's own: with mu = 1 the step's forward pass gives
            # it, otherwise one pass now under the params before this step's updates.
            del batch["old_logp"]
            if self.grpo.num_iterations > 1:
                batch["old_logp"] = self._logp_under(nnx.state(self.policy.model, self.trainable), batch)
        if self.ref_state is not None:
            batch["ref_logp"] = self._logp_under(self.ref_state, batch)
        return batch, rewards

    def _step_for(self, rows: int):
        """The train step for an update over `rows` rows (micro-batches of trainer.micro_batch_size)."""
        k = rows // self._micro_rows if rows % self._micro_rows == 0 and rows >= self._micro_rows else 1
        if k not in self._step_fns:
            self._step_fns[k] = make_train_step(self.graphdef, self.grpo, self.tx, self.logprob_fn, k)
        return self._step_fns[k]

    def _logp_under(self, param_state: Any, batch: dict[str, jax.Array]) -> jax.Array:
        """Completion log-probs of `batch` under the given params (the reference, or the current ones)."""
        if not hasattr(self, "_logp_fn"):
            _, _, rest = nnx.split(self.policy.model, self.trainable, ...)

            def logp_fn(params, rest, batch):
                return self.logprob_fn(nnx.merge(self.graphdef, params, rest), batch)[0]

            self._logp_fn = jax.jit(logp_fn)
            self._logp_rest = rest
        return jax.lax.stop_gradient(self._logp_fn(param_state, self._logp_rest, batch))

    def _set_params(self, params: Any) -> None:
        """Write `params` into the policy; the sampling copy is cast again before the next rollout."""
        nnx.update(self.policy.model, params)
        self.sampler.invalidate()

    def run(self) -> dict[str, Any]:
        """Train for `trainer.steps` steps (resuming if a checkpoint exists); returns the summary."""
        cfg, tc = self.cfg, self.cfg.trainer
        G, B = self.group_size, tc.prompts_per_step
        logger = MetricsLogger(self.run_dir, tensorboard=tc.tensorboard, enabled=self.is_main)
        ckpt = Checkpointer(self.run_dir / "checkpoints", keep=tc.keep_checkpoints) if tc.checkpoint_every else None
        _, params, rest = nnx.split(self.policy.model, self.trainable, ...)
        opt_state = init_opt_state(self.tx, params)
        rng, start, position = jax.random.key(tc.seed), 0, 0
        before: HeldOutScores | None = None  # per-prompt held-out scores of the starting params
        summary: dict[str, Any] = {"params": param_count(self.policy.model),
                                   "trainable_params": param_count(self.policy.model, self.trainable)}
        if ckpt is not None and tc.resume and ckpt.latest_step() is not None:
            state, meta = ckpt.restore(ckpt.latest_step(),
                                       {"params": params, "opt_state": opt_state, "rng": rng})
            params, opt_state, rng = state["params"], state["opt_state"], state["rng"]
            start, position = meta["step"], meta["position"]
            summary.update(meta.get("summary", {}))
            saved = meta.get("eval_before_scores")
            before = HeldOutScores.from_json(saved) if saved else None
            if before is not None and not before.matches(self.eval_examples):
                log.warning("the held-out prompts changed since the checkpoint: no before/after gain table")
                before = None
            logger.truncate_from(start)
            log.info("resumed from step %d (data position %d)", start, position)
        self._set_params(params)
        if tc.eval_before and start == 0 and self.eval_examples:
            before = self.evaluate(self.eval_examples)
            summary["eval_before"] = before.metrics()
            log.info("eval before training: %s", summary["eval_before"])
        # The periodic slice: scored every tc.eval_every steps, logged in that step's record.
        periodic = eval_slice([e.task for e in self.eval_examples], tc.eval_every_size) \
            if tc.eval_every and self.eval_examples else None
        bar = None
        if tc.progress and self.is_main:
            from tqdm import tqdm

            bar = tqdm(total=tc.steps, initial=start, desc="grpo", unit="step")
        # With trainer.overlap_rewards the next step's rollout is generated before this step's update,
        # while this step's completions are scored on a host thread (one step off-policy).
        pending: _StepBatch | None = None
        for step in range(start, tc.steps):
            eval_rec = {}
            if periodic is not None and step % tc.eval_every == 0:  # params after `step` updates
                eval_rec = self._slice_metrics(periodic, before if step == 0 else None)
            t_step = time.perf_counter()
            current = pending if pending is not None else self._begin_step(step, position, rng)
            pending = None
            if self._scorer is not None and step + 1 < tc.steps:
                pending = self._begin_step(step + 1, position + B, rng)
            rewards_local, provenance = self._rewards(current)
            rollout, timings = current.rollout, current.timings
            t0 = time.perf_counter()
            self.sampler.invalidate()  # this step's rollouts exist: free the compute copy for the update
            batch, _ = self._train_batch(rollout, rewards_local)
            offset, n_rows = 0.0, self._rows
            if self.live_groups is not None:
                batch, offset, n_rows = self.live_groups(batch)
            step_fn = self._step_for(n_rows)
            # The sampler's weight copy and the scoring's buffers are freed by now: hand their pages back
            # before the update's workspace is allocated on top of them (a 2-step run: the second update's
            # resident peak 3.69 -> 3.51 GiB).
            release_freed_memory()
            ms = []
            for _ in range(self.grpo.num_iterations):
                params, opt_state, m = step_fn(params, rest, opt_state, batch, offset)
                ms.append(m)
            ms = jax.device_get(ms)  # rollout/...: the sampler/trainer mismatch before the first update
            m = dict(ms[-1], **{k: v for k, v in ms[0].items() if k.startswith("rollout/")}, update_rows=n_rows)
            timings["update"] = time.perf_counter() - t0
            self._set_params(params)
            release_freed_memory()  # the update's workspace (gradients, activations)
            position += B
            timings["step"] = time.perf_counter() - t_step
            rewards = gather(rewards_local)
            lengths = gather(host_local(rollout.lengths, self.mesh))
            # Every process holds the same data order, so the global batch's tags need no communication.
            tasks = [e.task for e in batch_at(self.train_examples, position - B, B) for _ in range(G)]
            plans = sum((Counter(c) for c in gather_json(Counter(p.get("plan_id", "?") for p in provenance))),
                        Counter())  # each process knows the plans of the rows it scored
            rec = step_metrics(step, m, rewards, tasks, lengths, G, plans, timings, int(lengths.sum()))
            rec.update({f"rewards/{k}": v for k, v in describe(self.reward_fn).items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)})
            rec.update(eval_rec)
            for hook in self.on_step_end:
                hook(rec)
            logger.log(rec)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(reward=f"{rec['reward/mean']:.3f}", loss=f"{rec['loss']:.4f}")
            if ckpt is not None and ((step + 1) % tc.checkpoint_every == 0 or step + 1 == tc.steps):
                ckpt.save(step + 1, {"params": params, "opt_state": opt_state, "rng": rng},
                          {"step": step + 1, "position": position,
                           "summary": {k: v for k, v in summary.items() if k.startswith("eval_before")},
                           "eval_before_scores": before.to_json() if before is not None else None})
                release_freed_memory()  # the serialised copy of params and optimizer state
        if bar is not None:
            bar.close()
        after: HeldOutScores | None = None
        if tc.eval_after and self.eval_examples:
            after = self.evaluate(self.eval_examples)
            summary["eval_after"] = after.metrics()
            log.info("eval after training: %s", summary["eval_after"])
        if periodic is not None and tc.steps % tc.eval_every == 0:  # the final params get a record of their own
            logger.log({"step": tc.steps, **self._slice_metrics(periodic, after)})
        if before is not None and after is not None:
            summary["eval_gain"] = gain_report(before, after, seed=tc.seed)
        summary["steps"] = tc.steps
        if self.is_main:
            write_summary(self.run_dir, summary, cfg)
            write_scores(self.run_dir, before, after)
            if "eval_gain" in summary:
                print(f"held-out score before and after training ({self.run_dir / 'summary.json'}):")
                print(format_report(summary["eval_gain"]), flush=True)
            if tc.plot and logger.path.exists():
                summary["plot"] = str(plot_curves(self.run_dir))
        logger.close()
        if ckpt is not None:
            ckpt.close()
        return summary

    def close(self) -> None:
        """Release reward-system resources."""
        if self._scorer is not None:
            self._scorer.shutdown(wait=True)
        close = getattr(self.reward_fn, "close", None)
        if close is not None:
            close()


def step_metrics(step: int, m: dict[str, Any], rewards: np.ndarray, tasks: Sequence[str],
                 lengths: np.ndarray, group_size: int, plans: Mapping[str, int], timings: dict[str, float],
                 new_tokens: int) -> dict[str, Any]:
    """The JSONL record of one step; `plans` counts the step's rows per reward plan id."""
    rec: dict[str, Any] = {"step": step}
    rec.update({k: float(v) for k, v in m.items()})
    finite = rewards[~np.isnan(rewards)]
    rec["reward/mean"] = float(finite.mean()) if finite.size else float("nan")
    rec["reward/std"] = float(finite.std()) if finite.size else float("nan")
    rec["reward/failed"] = int(np.isnan(rewards).sum())
    groups = rewards.reshape(-1, group_size)
    rec["frac_reward_zero_std"] = float(np.mean([np.nanstd(g) == 0 if not np.isnan(g).all() else 1.0 for g in groups]))
    for task in sorted(set(tasks)):
        vals = rewards[[i for i, t in enumerate(tasks) if t == task]]
        vals = vals[~np.isnan(vals)]
        rec[f"reward/task/{task}/mean"] = float(vals.mean()) if vals.size else float("nan")
    rec["completion/mean_length"] = float(lengths.mean())
    rec["completion/max_length"] = int(lengths.max())
    rec.update({f"time/{k}": round(v, 4) for k, v in timings.items()})
    rec["tokens_per_s"] = new_tokens / max(timings.get("rollout", 0.0), 1e-9)
    rec["reward/plans"] = dict(plans)
    return rec


def write_summary(run_dir: Path, summary: dict[str, Any], cfg: ExperimentConfig) -> None:
    """Write summary.json (eval before/after, the gain table, final metrics) and the config next to it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    (run_dir / "config.json").write_text(json.dumps(to_dict(cfg), indent=2, sort_keys=True))


def write_scores(run_dir: Path, before: HeldOutScores | None, after: HeldOutScores | None) -> None:
    """Write eval_scores.json: per held-out prompt its uid, task and score before / after (null = failed)."""
    if before is None and after is None:
        return
    base = before if before is not None else after
    out: dict[str, list] = {"uid": base.uids, "task": base.tasks}
    for name, s in (("before", before), ("after", after)):
        if s is not None:
            out[name] = s.to_json()["score"]
    (run_dir / "eval_scores.json").write_text(json.dumps(out, indent=1))

