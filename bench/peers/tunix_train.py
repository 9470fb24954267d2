"""tunix GRPO steps for bench/grpo_step.py (imported by tunix_side.py inside bench/peers/.venv-tunix).

`run_learner` runs tunix's own `GRPOLearner.train` with settings matching the other sides and times each
global step, split into rollout (`RLCluster.generate`), reward (the reward function) and update
(`RLCluster.update_actor`: tunix's policy loss, backward and optimizer step).
"""

from __future__ import annotations

import importlib.util
import math
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]
PROMPT_BUCKETS = (64, 128, 256, 512, 1024, 2048, 4096)  # rlar-jax's default prompt buckets


def reward_fn(verifier_id: str, group: int):
    """bench/_trl_reward.py's reward with `verifiers/<verifier_id>.py` (the file rlar-jax runs in its
    sandbox), in tunix's reward-function signature. tunix crashes on a None reward, so a verifier error
    scores 0.0 here. Records each call's seconds and how many rows sit in groups whose rewards are not
    all equal (tunix repeats each prompt `group` times in a row)."""
    spec = importlib.util.spec_from_file_location("bench_trl_reward", BENCH / "_trl_reward.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    score = mod.make_reward(verifier_id)
    calls: list[float] = []
    live: list[int] = []

    def reward(prompts, completions, question, reference, rationale, **_):
        t0 = time.perf_counter()
        out = [0.0 if r is None else r for r in score(list(question), list(completions), list(reference),
                                                          list(rationale))]
        calls.append(time.perf_counter() - t0)
        groups = [out[i:i + group] for i in range(0, len(out), group)]
        live.append(sum(len(g) for g in groups if max(g) > min(g)))
        return out

    reward.calls, reward.live = calls, live
    return reward


def bucket(n: int, buckets: tuple[int, ...] = PROMPT_BUCKETS) -> int:
    """The smallest bucket holding `n` tokens (a multiple of the largest beyond it)."""
    for b in buckets:
        if n <= b:
            return b
    return math.ceil(n / buckets[-1]) * buckets[-1]


def batches(job: dict[str, Any], tokenizer) -> tuple[list[dict[str, Any]], list[list[int]]]:
    """The job's examples as tunix training batches of B prompts (chat template applied, as on the other
    sides), and the prompt lengths of each batch."""
    import numpy as np

    b = int(job["prompts"])
    out, lens = [], []
    exs = job["examples"]
    for i in range(0, len(exs) - b + 1, b):
        chunk = exs[i:i + b]
        texts = [tokenizer.apply_chat_template(e["messages"], add_generation_prompt=True, tokenize=False)
                 for e in chunk]
        lens.append([len(tokenizer.encode(t, add_special_tokens=False)) for t in texts])
        out.append({"prompts": np.array(texts, dtype=object),
                    "question": np.array([e["question"] for e in chunk], dtype=object),
                    "reference": np.array([e["reference"] for e in chunk], dtype=object),
                    "rationale": np.array([e["rationale"] for e in chunk], dtype=object)})
    return out, lens


def optimizer(job: dict[str, Any]):
    """AdamW with global-norm clipping, as the other sides."""
    import optax

    return optax.chain(optax.clip_by_global_norm(float(job.get("max_grad_norm", 1.0))),
                       optax.adamw(float(job.get("lr", 1e-6)), b1=0.9, b2=float(job.get("b2", 0.99)),
                                   weight_decay=0.0))


def run_learner(job: dict[str, Any], model, cfg, tokenizer, mesh) -> dict[str, Any]:
    """W + N steps of tunix's GRPOLearner; per-step records like bench/grpo_step.py's other sides."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx
    from jax import monitoring
    from tunix.rl import rl_cluster as rl_cluster_lib
    from tunix.rl.grpo import grpo_learner as grpo_lib
    from tunix.rl.rollout import base_rollout

    g, length = int(job["group"]), int(job["max_new_tokens"])
    total = int(job["warmup"]) + int(job["steps"])
    data, prompt_lens = batches(job, tokenizer)
    data = data[:total]
    padded = bucket(max(max(ls) for ls in prompt_lens[:total]))
    reward = reward_fn(job.get("verifier", "math_answer"), g)

    cluster_cfg = rl_cluster_lib.ClusterConfig(
        role_to_mesh={rl_cluster_lib.Role.ACTOR: mesh, rl_cluster_lib.Role.REFERENCE: mesh,
                      rl_cluster_lib.Role.ROLLOUT: mesh},
        rollout_engine="vanilla", offload_to_cpu=False,
        training_config=rl_cluster_lib.RLTrainingConfig(
            actor_optimizer=optimizer(job), eval_every_n_steps=10**9, max_steps=total,
            checkpoint_root_directory=None, pbar_description=None),
        rollout_config=base_rollout.RolloutConfig(
            max_tokens_to_generate=length, temperature=1.0, top_p=1.0, top_k=None,
            max_prompt_length=padded, kv_cache_size=padded + length, data_type=jnp.float32,
            # -1 is no token: every row runs to exactly `length` tokens, as TRL's min_new_tokens.
            eos_tokens=[-1] if job.get("force_length", True) else None),
    )
    cluster = rl_cluster_lib.RLCluster(actor=model, reference=None, tokenizer=tokenizer, cluster_config=cluster_cfg)
    algo = grpo_lib.GRPOConfig(num_generations=g, num_iterations=1, beta=0.0, epsilon=0.2,
                               loss_agg_mode="token-mean")  # DAPO's token mean over the batch
    algo.epsilon_high = 0.28  # read by tunix's grpo_loss_fn (clip-higher)
    learner = grpo_lib.GRPOLearner(rl_cluster=cluster, algo_config=algo, reward_fns=[reward])

    compiles: list[tuple[str, str, float]] = []  # (event, function, seconds), as rlar-jax's side records them

    def on_duration(event: str, secs: float, **kw: Any) -> None:
        if event.startswith("/jax/core/compile/"):
            compiles.append((event.rsplit("/", 1)[-1], str(kw.get("fun_name", "?")), secs))

    monitoring.register_event_duration_secs_listener(on_duration)
    steps: list[dict[str, Any]] = []
    cur: dict[str, Any] = {}
    gen, upd, glob = cluster.generate, cluster.update_actor, learner._run_global_step

    def timed_generate(*a, **kw):
        t0 = time.perf_counter()
        out = gen(*a, **kw)
        cur["rollout_s"] = cur.get("rollout_s", 0.0) + time.perf_counter() - t0
        lens = [len(t) for t in out.tokens]
        cur["completion_mean_len"] = float(np.mean(lens))
        cur["completion_max_len"] = int(max(lens))
        return out

    def timed_update(*a, **kw):
        t0 = time.perf_counter()
        out = upd(*a, **kw)
        jax.block_until_ready(nnx.state(cluster.actor_trainer.model))
        cur["update_s"] = cur.get("update_s", 0.0) + time.perf_counter() - t0
        return out

    def timed_step(*a, **kw):
        cur.clear()
        n_calls, n_compiles = len(reward.calls), len(compiles)
        t0 = time.perf_counter()
        out = glob(*a, **kw)
        i = len(steps)
        new = compiles[n_compiles:]
        backend = [(f, t) for e, f, t in new if e == "backend_compile_duration"]
        rec = {"step": i, "step_s": time.perf_counter() - t0, "reward_s": sum(reward.calls[n_calls:]),
               "live_rows": sum(reward.live[n_calls:]),
               "prompt_lens": prompt_lens[i], "prompt_padded": padded, "compiles": len(backend),
               "compile_s": round(sum(t for _, _, t in new), 4), "compiled_functions": sorted({f for f, _ in backend}),
               **cur}
        steps.append(rec)
        print(f"tunix step {i}: {rec['step_s']:.2f} s (rollout {rec.get('rollout_s', float('nan')):.2f}, "
              f"update {rec.get('update_s', float('nan')):.2f}, {rec['compiles']} compiles)", flush=True)
        return out

    cluster.generate = timed_generate
    cluster.update_actor = timed_update
    learner._run_global_step = timed_step
    learner.train(data)
    return {"steps": steps, "prompt_padded": padded}
