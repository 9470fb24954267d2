"""The benchmarks' pure-Python helpers: paired rounds and medians (bench/_pairs.py), the --peer / --pairs
command lines of bench/rollout.py and bench/grpo_step.py, the grpo_step report and JSON line for a peer,
and the tunix launcher's checks. Nothing here runs a model or needs the tunix venv."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import _pairs  # noqa: E402
import grpo_step  # noqa: E402
import rollout  # noqa: E402
from peers import tunix_peer, tunix_train  # noqa: E402


# ------------------------------------------------------------------------------------------ _pairs
def test_schedule_alternates_ours_first_in_every_round():
    assert _pairs.schedule(2, ["hf", "tunix"]) == [(0, "ours"), (0, "hf"), (0, "tunix"),
                                                   (1, "ours"), (1, "hf"), (1, "tunix")]
    assert _pairs.schedule(1, ["trl"]) == [(0, "ours"), (0, "trl")]


@pytest.mark.parametrize("pairs, peers", [(0, ["hf"]), (2, []), (2, ["hf", "hf"])])
def test_schedule_rejects_bad_input(pairs, peers):
    with pytest.raises(ValueError):
        _pairs.schedule(pairs, peers)


def test_paired_throughput_ratio_is_the_median_of_per_round_ratios():
    st = _pairs.paired([10.0, 30.0, 20.0], [5.0, 10.0, 40.0], higher_is_better=True)
    assert st["ratios"] == [2.0, 3.0, 0.5]
    assert (st["ours"], st["peer"], st["ratio"]) == (20.0, 10.0, 2.0)


def test_paired_time_ratio_favours_the_faster_side():
    st = _pairs.paired([2.0, 4.0], [4.0, 4.0], higher_is_better=False)  # seconds: lower is better
    assert st["ratios"] == [2.0, 1.0]
    assert st["ratio"] == 1.5 and st["ours"] == 3.0 and st["peer"] == 4.0


def test_paired_needs_matching_rounds():
    with pytest.raises(ValueError):
        _pairs.paired([1.0, 2.0], [1.0], higher_is_better=True)
    with pytest.raises(ValueError):
        _pairs.paired([], [], higher_is_better=True)


def test_median_of_nothing_is_nan():
    assert _pairs.median([]) != _pairs.median([])
    assert _pairs.median([3.0, 1.0, 2.0]) == 2.0


def test_json_line_has_the_benchmark_keys_and_rounds():
    line = _pairs.json_line("rollout", 12.34567, 6.0, "new_tokens/s", 2.05761, "tunix 0.1.7", digits=3)
    assert "\n" not in line
    assert json.loads(line) == {"bench": "rollout", "ours": 12.346, "peer": 6.0, "unit": "new_tokens/s",
                                "ratio": 2.058, "peer_name": "tunix 0.1.7"}
    assert list(json.loads(_pairs.json_line("x", 1, 2, "s", 3))) == ["bench", "ours", "peer", "unit", "ratio"]


# ------------------------------------------------------------------------------------------ rollout.py
def test_rollout_defaults_keep_the_hf_peer():
    args = rollout.parse_args([])
    assert args.peer == ["hf"] and args.pairs == 3 and args.batch == 16 and args.new_tokens == 128


def test_rollout_takes_several_peers_once_each():
    args = rollout.parse_args(["--peer", "tunix", "hf", "tunix", "--pairs", "5"])
    assert args.peer == ["tunix", "hf"] and args.pairs == 5


@pytest.mark.parametrize("argv", [["--peer", "vllm"], ["--pairs", "0"], ["--new-tokens", "1"]])
def test_rollout_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as e:
        rollout.parse_args(argv)
    assert e.value.code == 2


def test_rollout_agreement_counts_equal_tokens_and_rows():
    share, rows = rollout.agreement([[1, 2, 3], [4, 5, 6]], [[1, 2, 3], [4, 0, 6]])
    assert rows == 1 and share == pytest.approx(5 / 6)


# ------------------------------------------------------------------------------------------ grpo_step.py
@pytest.mark.parametrize("argv", [["--pairs", "0"], ["--peer", "verl"], ["--reward", "bleu"]])
def test_grpo_step_rejects_bad_arguments(argv):
    with pytest.raises(SystemExit) as e:
        grpo_step.main(argv)
    assert e.value.code == 2


def fake_run(step_s: list[float], warmup: int, **extra) -> dict:
    """A side's result with one record per step, as the side functions write them."""
    steps = [{"step": i, "step_s": x, "rollout_s": x / 2, "reward_s": 0.01, "update_s": x / 2 - 0.01,
              "prefill_s": None, "decode_s": None, "completion_mean_len": 8.0, "completion_max_len": 8,
              "prompt_lens": [10, 12], "prompt_padded": 64, "compiles": 0, "compile_s": 0.0,
              "compiled_functions": []} for i, x in enumerate(step_s)]
    return {"steps": steps, "jax": "0.10.2", **extra}


def test_grpo_step_report_for_tunix_pairs_rounds():
    s = grpo_step.Settings(steps=2, warmup=1, prompts=2, group=2, max_new_tokens=8, threads=2, force_length=True,
                           omp_wait_policy="PASSIVE")
    exp = {"params": 134_515_008, "source": "/x/SmolLM2-135M-Instruct.Q4_1.gguf", "max_abs_logit_diff": 1e-4}
    peak = {"peak_flops": 1e11, "median_flops": 9e10, "seconds": [1.0], "n": 4096}
    ours = [fake_run([30.0, 10.0, 12.0], 1), fake_run([30.0, 20.0, 22.0], 1)]  # round medians 11, 21
    ours[1]["steps"][2]["update_skipped"] = 1.0
    tunix = [fake_run([40.0, 22.0, 22.0], 1, tunix="0.1.7", flax="0.12.8", rope_theta_used=1e5, max_rss_gb=3.0),
             fake_run([40.0, 21.0, 21.0], 1, tunix="0.1.7", flax="0.12.8", rope_theta_used=1e5, max_rss_gb=4.25)]
    text, line = grpo_step.report(s, 2, exp, peak, ours, "tunix", tunix, grpo_step.LoadSampler(), "1 1 1", "2 2 2")
    rec = json.loads(line)
    assert rec["bench"] == "grpo_step" and rec["unit"] == "s/step" and rec["peer_name"] == "tunix 0.1.7"
    assert rec["ours"] == 16.0 and rec["peer"] == 21.5
    assert rec["ratio"] == pytest.approx((22 / 11 + 21 / 21) / 2, abs=1e-4)
    assert "## GRPO step: rlar-jax vs tunix GRPOLearner (CPU)" in text
    assert "--peer tunix --pairs 2" in text and "tunix 0.1.7 (jax 0.10.2" in text
    assert "| s/step per round (median of its steps) | 11.00, 21.00 | 22.00, 21.00 |" in text
    assert "| warm-up step s | 30.00, 30.00 | 40.00, 40.00 |" in text
    assert "rlar-jax skipped the update in 1 of 4 measured steps" in text
    assert "| rows with reward signal / step (of 4; median) | n/a | n/a |" in text
    assert "peak RSS of the tunix process 4.2 GB" in text


# ------------------------------------------------------------------------------------------ tunix peer
def test_tunix_launcher_explains_a_missing_venv(monkeypatch, tmp_path):
    monkeypatch.setattr(tunix_peer, "VENV_PYTHON", tmp_path / "nowhere" / "python")
    with pytest.raises(SystemExit, match="tunix.sh"):
        tunix_peer.python()


def test_tunix_peer_name():
    assert tunix_peer.name({"tunix": "0.1.7"}) == "tunix 0.1.7"


@pytest.mark.parametrize("n, padded", [(1, 64), (64, 64), (65, 128), (300, 512), (5000, 8192)])
def test_tunix_prompt_buckets_match_ours(n, padded):
    assert tunix_train.bucket(n) == padded


def test_grpo_step_report_for_trl_keeps_its_wording():
    s = grpo_step.Settings(steps=1, warmup=0, prompts=2, group=2, max_new_tokens=8, threads=2, force_length=True,
                           omp_wait_policy="PASSIVE")
    exp = {"params": 134_515_008, "source": "x.gguf", "max_abs_logit_diff": 1e-4}
    peak = {"peak_flops": 1e11, "median_flops": 9e10, "seconds": [1.0], "n": 4096}
    trl = [fake_run([8.0], 0, torch="2.13.0", transformers="5.24.0", trl="0.30.0")]
    for st in trl[0]["steps"]:  # TRL's side records no compilations
        for k in ("compiles", "compile_s", "compiled_functions"):
            st.pop(k)
    text, line = grpo_step.report(s, 1, exp, peak, [fake_run([4.0], 0)], "trl", trl, grpo_step.LoadSampler(), "", "")
    assert json.loads(line) == {"bench": "grpo_step", "ours": 4.0, "peer": 8.0, "unit": "s/step", "ratio": 2.0,
                                "peer_name": "trl 0.30.0"}
    assert "## GRPO step: rlar-jax vs TRL GRPOTrainer (CPU)" in text and "**TRL / rlar-jax = 2.00x**" in text
    assert "| XLA compilations in measured steps | 0 (0.00 s) | n/a |" in text
    assert "TRL generates exactly 8 tokens (`min_new_tokens`)" in text and "trl 0.30.0" in text


# ------------------------------------------------------------------------------------------ rewards
def test_every_side_scores_with_the_verifier_file_rlar_jax_runs_in_its_sandbox():
    from rlar_jax.sandbox import Sandbox, load_verifier

    import _trl_reward

    prompt = [{"role": "user", "content": "Tom has 3 apples and buys 4. How many?"}]
    completions = ["3 + 4 = 7 apples. #### 7", "He has 8.", [{"role": "assistant", "content": "#### 7"}]]
    with Sandbox() as sb:
        for key, vid in grpo_step.REWARDS.items():
            fn = _trl_reward.make_reward(vid)
            got = fn([prompt] * 3, completions, reference=["7"] * 3, rationale=["3 + 4 = 7\n#### 7"] * 3)
            want = [sb.score(load_verifier(vid), prompt[0]["content"], _trl_reward._text(c), "7",
                             {"rationale": "3 + 4 = 7\n#### 7"}).score for c in completions]
            assert got == pytest.approx(want, abs=1e-6) and fn.__name__ == vid
            if key == "answer":
                assert got == [1.0, 0.0, 1.0]
            else:  # continuous: three different values
                assert len(set(got)) == 3


def test_tunix_reward_counts_rows_in_groups_with_a_spread():
    fn = tunix_train.reward_fn("math_answer", group=2)
    q = ["What is 3 + 4?"] * 4
    out = fn(None, ["#### 7", "#### 8", "#### 7", "#### 7"], question=q, reference=["7"] * 4, rationale=["x"] * 4)
    assert out == [1.0, 0.0, 1.0, 1.0] and fn.live == [2] and len(fn.calls) == 1


def test_grpo_step_report_counts_rows_with_signal():
    s = grpo_step.Settings(steps=2, warmup=0, prompts=2, group=2, max_new_tokens=8, threads=2, force_length=True,
                           omp_wait_policy="PASSIVE", reward="answer")
    ours = fake_run([4.0, 5.0], 0)
    for st, live in zip(ours["steps"], [4, 2]):
        st["live_rows"] = live
    assert grpo_step.live_cell([ours], s) == "3 (min 2)"
    assert grpo_step.live_cell([fake_run([4.0], 0)], s) == "n/a"
