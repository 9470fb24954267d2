"""The whole GRPO loop learns: the tiny random model is trained until its completions start with a letter.

The tiny config (configs/tiny.yaml: a randomly initialised llama-style model over a byte-level
tokenizer) runs through the real `Trainer` on a trivially learnable, verifiable reward: 1 when the
completion starts with the letter Q, else 0. The untrained model spreads its first byte almost
uniformly over the 259-token vocabulary, so Q starts about 1 completion in 260 (mean reward near 0);
learning it needs every part of the loop to work: sampling and its log-probs, rewards aligned with
their rows across the 8 data-parallel devices, group advantages, the clipped surrogate and its sign,
the optimizer update, and the new params written back to the model that samples the next step.

Scoring goes through the project's real reward path: the seed `format_constraints` verifier, run in
the WebAssembly sandbox by the `ScoringEngine` under a static plan (`static_plans`), with the pattern
`^Q` as each example's meta. A sandboxed batch of 128 completions scores in about 0.03 s, so there is
no reason to use a trusted in-process reward instead. The sandbox is an in-process `Sandbox` (the
same guest and verifier a `SandboxPool` worker runs) to spare the test the pool's worker start-up.

Settings (config overrides; configs/tiny.yaml itself is left as it is): 8 prompts x 16 completions
per step (128 rows: about one Q per two steps before learning), 2 new tokens (only the first byte is
rewarded), learning rate 0.05 (cosine decay over the run), every row in the update (one compiled
update shape instead of one per live-group bucket), 20 steps. With these settings and seeds 0-10
(trainer.seed = model.random_seed) the mean reward first reached 0.9 between steps 3 and 9 and then
stayed at 0.95-1.0; the wait for the first rewarded sample is the variable part. Prompts are written
to tmp_path, so the test needs no dataset.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"
LETTER = "Q"
TASK = "first_letter"
STEPS = 20
PROMPTS_PER_STEP = 8
GROUP_SIZE = 16

_TRAIN_TOPICS = ["rain", "snow", "cats", "dogs", "ships", "trains", "bread", "milk", "stars", "trees", "rivers",
                 "clocks", "bees", "coins", "lamps", "maps", "shoes", "kites", "boats", "owls", "frogs", "hills",
                 "books", "drums", "grapes", "ducks", "roses", "bells", "chairs", "wolves", "pears", "forks",
                 "tents", "ropes", "fish", "wind", "salt", "glass", "wool", "clay", "rocks", "sand"]
_EVAL_TOPICS = ["ice", "fire", "moss", "corn", "rice", "tea", "gold", "mud", "foxes", "bats", "eggs", "nuts",
                "caves", "waves", "seeds", "masks"]
_VERBS = ["Tell me about", "Describe", "Write a line on", "Say a word about"]


def _write_prompts(path: Path, topics: list[str], verbs: list[str]) -> Path:
    rows = [{"prompt": f"{verb} {topic}.", "regex": f"^{LETTER}"} for topic in topics for verb in verbs]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _starts_with_letter(texts: list[str]) -> float:
    return float(np.mean([t.startswith(LETTER) for t in texts]))


def _train_first_letter(tmp_path: Path, overrides: list[str]) -> dict:
    """Train the tiny config on the first-letter reward (with `overrides` on top of this file's settings);
    returns the trainer, its summary, the reward curve, the metrics records, the trained model's greedy
    held-out completions and the wall / CPU seconds of the run."""
    import jax

    from rlar_jax.config import load_config
    from rlar_jax.datasets.examples import Example, chat
    from rlar_jax.rewards.engine import ScoringEngine
    from rlar_jax.rewards.factory import static_plans
    from rlar_jax.rollout import decode_completions, encode_prompts, generate
    from rlar_jax.sandbox import Sandbox, load_verifier
    from rlar_jax.sandbox.build import ensure_guest
    from rlar_jax.trainer import Trainer

    ensure_guest()  # built once per machine (cached); not part of the timed run
    train = _write_prompts(tmp_path / "train.jsonl", _TRAIN_TOPICS, _VERBS)
    held_out = _write_prompts(tmp_path / "eval.jsonl", _EVAL_TOPICS, _VERBS[:1])
    task = {"kind": "jsonl", "name": TASK, "train_path": str(train), "eval_path": str(held_out),
            "fields": {"prompt": "prompt", "meta.regex": "regex"}}
    run_dir = tmp_path / "run"
    cfg = load_config(TINY, [
        f"trainer.run_dir={run_dir}", f"data.tasks={json.dumps([task])}", f"data.eval_size={len(_EVAL_TOPICS)}",
        f"trainer.steps={STEPS}", f"trainer.prompts_per_step={PROMPTS_PER_STEP}",
        f"sampling.group_size={GROUP_SIZE}", "sampling.max_new_tokens=2", "sampling.temperature=1.0",
        "sampling.prompt_buckets=[64]", "optim.learning_rate=0.05", "trainer.drop_zero_advantage_groups=false",
        "trainer.eval_before=true", "trainer.eval_after=true", "trainer.checkpoint_every=0",
        "trainer.plot=false", "trainer.tensorboard=false", "trainer.progress=false", *overrides])

    reward = ScoringEngine(Sandbox(), static_plans({TASK: "format_constraints"}), load_verifier)
    try:
        probe = Example(chat("Describe rain."), "", TASK, {"regex": f"^{LETTER}"})
        scores, provenance = reward.score([probe] * 4, [f"{LETTER}x", f"x{LETTER}", f" {LETTER}", ""])
        assert scores.tolist() == [1.0, 0.0, 0.0, 0.0], provenance
        assert provenance[0]["components"] == {"verifier:format_constraints": 1.0}

        t0, cpu0 = time.perf_counter(), time.process_time()
        trainer = Trainer(cfg, reward_fn=reward)
        summary = trainer.run()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        # Greedy completions of the held-out prompts by the trained model itself (not via the reward).
        examples = trainer.eval_examples
        tok = trainer.policy.tokenizer
        rollout = generate(trainer.policy.model, encode_prompts(tok, [list(e.messages) for e in examples]),
                           trainer.eval_sampling, jax.random.key(0), pad_id=tok.pad_id, eos_ids=tuple(tok.eos_ids),
                           mesh=trainer.mesh)
        greedy = decode_completions(tok, rollout, trainer.mesh)
    finally:
        reward.close()  # the in-process sandbox (what Trainer.close would close)

    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    curve = [m["reward/mean"] for m in metrics]
    print(f"\nGRPO first-letter run: {STEPS} steps x {PROMPTS_PER_STEP * GROUP_SIZE} completions, "
          f"wall {wall:.1f} s, CPU {cpu:.1f} s (model build, compilation, training, held-out evaluation)")
    print("reward/mean per step:", " ".join(f"{r:.3f}" for r in curve))
    print(f"held-out greedy: before {summary['eval_before']['eval/accuracy']:.2f}, "
          f"after {_starts_with_letter(greedy):.2f} start with {LETTER!r}, e.g. {greedy[:4]}")
    return {"trainer": trainer, "summary": summary, "curve": curve, "metrics": metrics, "greedy": greedy,
            "wall": wall, "cpu": cpu}


def _assert_learned(run: dict) -> None:
    """The reward curve and the held-out greedy completions show the letter was learned."""
    metrics, curve, summary = run["metrics"], run["curve"], run["summary"]
    assert [m["step"] for m in metrics] == list(range(STEPS))
    assert all(m["reward/failed"] == 0 for m in metrics), "every completion must be scored by the sandbox"
    assert curve[0] < 0.3, f"the untrained model must rarely start with {LETTER!r}: {curve}"
    assert np.mean(curve[-2:]) >= 0.9, f"mean reward of the last 2 of {STEPS} steps must reach 0.9: {curve}"
    # The reward rose because the params were updated: steps with a signal ran the update.
    assert all(m["update_skipped"] == 0 and m["grad_norm"] > 0 for m in metrics if m["frac_reward_zero_std"] < 1)
    assert summary["eval_before"]["eval/accuracy"] < 0.3
    assert summary["eval_after"]["eval/accuracy"] >= 0.9
    assert _starts_with_letter(run["greedy"]) >= 0.9, run["greedy"]


def test_grpo_learns_to_start_completions_with_a_letter(tmp_path, record_property):
    run = _train_first_letter(tmp_path, [])
    record_property("wall_s", round(run["wall"], 1))
    record_property("cpu_s", round(run["cpu"], 1))
    record_property("reward_curve", [round(r, 3) for r in run["curve"]])
    compilations = sum(len(fn.compiled) for fn in run["trainer"]._step_fns.values())
    print(f"train-step compilations: {compilations}")
    assert compilations == 1  # params come back in the layout they went in: no second compile at step 1
    _assert_learned(run)


def test_lora_grpo_learns_with_the_base_frozen(tmp_path, record_property):
    """LoRA (rank 4 on every projection): the same task is learned with only the adapters trained. The
    base weights stay bitwise equal to a freshly built model's, and the optimizer state holds nothing but
    adapter-sized leaves (AdamW's two moments per adapter matrix, plus scalars).

    The model is the tiny config widened to hidden size 512. With the embedding frozen, no adapter can
    make a token's logit larger than sqrt(hidden) x |its tied embedding row| (the final RMSNorm fixes the
    hidden state's norm): about 0.02 x hidden for weights of std 0.02, so p(Q) tops out near 1.4% at hidden
    64 and near 40% at 256 (measured: the curve flattens at 0.4), while 512 allows > 0.99 (measured:
    0.98 from step 6, lr 0.05)."""
    import jax
    from flax import nnx

    from rlar_jax.config import load_config
    from rlar_jax.grpo import init_opt_state
    from rlar_jax.models.lora import adapters
    from rlar_jax.policy import build_policy

    wide = ["model.random_config.hidden_size=512", "model.random_config.intermediate_size=1024"]
    run = _train_first_letter(tmp_path, [*wide, "model.lora.rank=4", "model.lora.alpha=8", "optim.learning_rate=0.05"])
    record_property("reward_curve", [round(r, 3) for r in run["curve"]])
    _assert_learned(run)
    model = run["trainer"].policy.model
    fresh = build_policy(load_config(TINY, wide).model, None).model
    base = {k: v for k, v in nnx.to_flat_state(nnx.state(model, nnx.Param)) if "lora" not in k}
    fresh_base = dict(nnx.to_flat_state(nnx.state(fresh, nnx.Param)))
    assert base.keys() == fresh_base.keys() and len(base) > 0
    for k in base:
        assert np.array_equal(np.asarray(base[k].get_value()), np.asarray(fresh_base[k].get_value())), k
    lora = adapters(model)
    n_adapter = sum(x.size for x in jax.tree.leaves(nnx.state(lora, nnx.LoRAParam)))
    assert n_adapter == run["summary"]["trainable_params"] < run["summary"]["params"] / 10
    state = init_opt_state(run["trainer"].tx, nnx.state(model, nnx.LoRAParam))
    sizes = [x.size for x in jax.tree.leaves(state) if x.size > 1]
    # 7 projections x (A, B) x (mu, nu); every leaf has an adapter matrix's shape
    assert len(sizes) == 7 * 2 * 2 and sum(sizes) == 2 * n_adapter
    assert sum(x.size for x in jax.tree.leaves(state)) < 2 * n_adapter + 16  # + step counts, lr
