"""`rlar-jax memory`: the per-device plan's exact parts (parameters, optimizer state, KV cache), its
activations against XLA's compiled memory analysis, its train-step peak against a measured step, and the
verdicts and errors of the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlar_jax import cli
from rlar_jax.config import load_config
from rlar_jax.memory import HELDOUT, ROLLOUT, TRAIN, build_plan
from rlar_jax.memory_cli import parse_size, verdict
from rlar_jax.models.shapes import model_shapes

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"
DEFAULT = ROOT / "configs" / "default.yaml"

# configs/tiny.yaml's model: byte-level vocabulary 259, D 64, F 128, 2 layers, 4 heads, 2 KV heads x 16, tied.
TINY_PARAMS = 259 * 64 + 64 + 2 * (2 * 64) + 2 * (64 * 4 * 16 + 2 * 64 * 2 * 16 + 4 * 16 * 64 + 3 * 64 * 128)
# ...and one device's share with mesh fsdp 2: every weight with an `embed` axis is halved, norms are whole.
TINY_PARAMS_FSDP2 = 259 * 32 + 64 + 2 * (2 * 64) + 2 * (32 * 4 * 16 + 2 * 32 * 2 * 16 + 4 * 16 * 32 + 3 * 32 * 128)


def _plan(config: Path, *overrides: str, devices: int | None = None, prompt_len: int | None = None):
    cfg = load_config(config, list(overrides))
    m = cfg.model
    mc, source = model_shapes(m.name, dtype=m.dtype, param_dtype=m.param_dtype, remat=m.remat,
                              frozen_layers=m.frozen_layers, random_config=m.random_config)
    return build_plan(cfg, mc, source, devices, prompt_len)


def _phase(plan, name):
    return next(p for p in plan.phases if p.name == name)


# ------------------------------------------------------------------------------------- exact parts
def test_parameter_grad_and_optimizer_bytes_are_the_shards_of_every_parameter():
    plan = _plan(TINY)
    assert plan.param_count == TINY_PARAMS == 90624
    train = _phase(plan, TRAIN).parts
    assert train["params"] == TINY_PARAMS * 4  # float32 master weights
    assert train["grads"] == TINY_PARAMS * 4
    assert train["optimizer state"] == 2 * TINY_PARAMS * 4  # AdamW m and v in the parameter dtype
    assert train["reference params"] == 0  # loss.beta 0: no reference copy

    sharded = _phase(_plan(TINY, "mesh.data=1", "mesh.fsdp=2"), TRAIN).parts
    assert sharded["params"] == TINY_PARAMS_FSDP2 * 4 == 181888
    assert sharded["optimizer state"] == 2 * TINY_PARAMS_FSDP2 * 4

    bf16 = _phase(_plan(TINY, "model.param_dtype=bfloat16", "model.dtype=bfloat16"), TRAIN).parts
    assert bf16["params"] == TINY_PARAMS * 2 and bf16["optimizer state"] == 2 * TINY_PARAMS * 2
    narrow = _phase(_plan(TINY, "optim.moment_dtype=bfloat16"), TRAIN).parts  # float32 weights, bf16 moments
    assert narrow["params"] == TINY_PARAMS * 4 and narrow["optimizer state"] == 2 * TINY_PARAMS * 2
    kl = _phase(_plan(TINY, "loss.beta=0.04"), ROLLOUT).parts
    assert kl["reference params"] == TINY_PARAMS * 4


def test_micro_batches_add_a_float32_gradient_accumulator():
    plan = _plan(TINY, "trainer.micro_batch_size=4", "model.param_dtype=bfloat16", "model.dtype=bfloat16")
    assert plan.shapes.num_micro == 2  # 2 prompts x 4 samples in micro-batches of 4
    assert _phase(plan, TRAIN).parts["grads"] == TINY_PARAMS * (2 + 4)


# rank-4 adapters on the tiny model's 7 projections per layer: (in + out) x 4 float32 elements each
TINY_LORA = 2 * 4 * ((64 + 64) + 2 * (64 + 32) + (64 + 64) + 2 * (64 + 128) + (128 + 64))


def test_lora_plan_trains_and_keeps_adapters_only():
    plan = _plan(TINY, "model.lora.rank=4", "loss.beta=0.04")
    assert plan.param_count == TINY_PARAMS  # the model's own parameters; the adapters are a note
    assert any(n.startswith(f"LoRA rank 4 on wq, wk, wv, wo, w_gate, w_up, w_down: {TINY_LORA / 1e6:.2f}M")
               for n in plan.notes)
    train = _phase(plan, TRAIN).parts
    assert train["params"] == (TINY_PARAMS + TINY_LORA) * 4
    assert train["grads"] == TINY_LORA * 4 and train["optimizer state"] == 2 * TINY_LORA * 4
    assert train["reference params"] == 0  # the KL reference is the base with adapters off
    # rollouts read a merged copy of the 7 adapted projections of both layers (float32 here)
    merged = 2 * (64 * 4 * 16 + 2 * 64 * 2 * 16 + 4 * 16 * 64 + 3 * 64 * 128) * 4
    assert _phase(plan, ROLLOUT).parts["sampler weights"] == merged
    bf16 = _phase(_plan(TINY, "model.lora.rank=4", "model.param_dtype=bfloat16", "model.dtype=bfloat16"), TRAIN)
    assert bf16.parts["params"] == TINY_PARAMS * 2 + TINY_LORA * 4  # bf16 base, float32 adapters
    assert bf16.parts["optimizer state"] == 2 * TINY_LORA * 4


def test_qwen3_8b_lora_config_fits_one_80gb_device_and_more_prompts_do_not(capsys):
    config = str(ROOT / "configs" / "qwen3_8b_lora.yaml")
    assert cli.main(["memory", "--config", config, "--device-memory", "80GB"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("fits: peak 64.7")
    assert cli.main(["memory", "--config", config, "trainer.prompts_per_step=16", "--device-memory", "80GB"]) == 1
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "in the rollout" in line and "fewer prompts per step" in line
    # A full fine-tune of the same model on one device: AdamW's state alone is 61 GiB; the advice names LoRA.
    assert cli.main(["memory", "--config", config, "model.lora.rank=null", "model.param_dtype=float32",
                     "--device-memory", "80GB"]) == 1
    assert "model.lora.rank=16 trains adapters only" in capsys.readouterr().out


def test_kv_cache_is_rows_times_slots_times_layers_kv_heads_head_dim_two_and_dtype():
    # rows 2 x 4 = 8, slots 1024 (the one bucket) + 16 new tokens, 2 layers, 2 KV heads x 16, k and v, float32
    plan = _plan(TINY)
    assert _phase(plan, ROLLOUT).parts["KV cache"] == 8 * (1024 + 16) * 2 * 2 * 16 * 2 * 4
    assert _phase(plan, TRAIN).parts["KV cache"] == 0
    # held-out generation: trainer.eval_batch_size 64 rows, one sample each
    assert _phase(plan, HELDOUT).parts["KV cache"] == 64 * (1024 + 16) * 2 * 2 * 16 * 2 * 4
    # rows split over data x fsdp, KV heads over tensor; the cache is in the compute dtype
    split = _plan(TINY, "mesh.data=2", "mesh.tensor=2", "model.dtype=bfloat16", prompt_len=64)
    assert split.shapes.devices == 4
    assert _phase(split, ROLLOUT).parts["KV cache"] == 4 * (64 + 16) * 2 * 1 * 16 * 2 * 2
    # the rollout reads a bf16 copy of the float32 weights; the train step does not hold it
    assert _phase(split, ROLLOUT).parts["sampler weights"] > 0
    assert _phase(split, TRAIN).parts["sampler weights"] == 0


def test_minus_one_axis_takes_the_devices_given():
    plan = _plan(TINY, "mesh.data=1", "mesh.fsdp=-1", devices=2)
    assert (plan.shapes.data, plan.shapes.fsdp, plan.shapes.tensor) == (1, 2, 1)
    assert _phase(plan, TRAIN).parts["params"] == TINY_PARAMS_FSDP2 * 4


def test_presets_give_the_published_parameter_counts():
    counts = {"Qwen/Qwen2.5-1.5B-Instruct": 1_543_714_304, "Qwen/Qwen3-8B": 8_190_735_360,
              "Qwen/Qwen3-32B": 32_762_123_264}
    for name, count in counts.items():
        mc, source = model_shapes(name)
        assert source.startswith("preset ")
        from rlar_jax.memory import abstract_model, shard_elements, plan_shapes
        from rlar_jax.policy import mesh_rules

        shapes, _ = plan_shapes(load_config(TINY), 1, 64)
        sizes = shard_elements(abstract_model(mc), shapes, mesh_rules({}))
        assert sum(n for n, _ in sizes.values()) == count, name


def test_tpu_pod_plan_shards_qwen3_8b_over_fsdp_and_tensor():
    plan = _plan(ROOT / "configs" / "tpu_pod.yaml", prompt_len=256)
    s = plan.shapes
    assert (s.data, s.fsdp, s.tensor, s.devices) == (1, 16, 4, 64)
    train = _phase(plan, TRAIN).parts
    # every matrix splits 64 ways, the vocabulary only over tensor where it divides; norms stay whole
    assert 8_190_735_360 * 4 / 64 <= train["params"] < 8_190_735_360 * 4 / 64 * 1.01
    assert train["optimizer state"] == 2 * train["params"]


# ------------------------------------------------------------------------------------ size parsing
@pytest.mark.parametrize("text, expected", [("80GB", 80 << 30), ("80 GiB", 80 << 30), ("141G", 141 << 30),
                                            ("512MiB", 512 << 20), ("1.5TB", int(1.5 * (1 << 40)))])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["eighty", "80", "", "80 GX", "-1GB", "0GB"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError, match="--device-memory"):
        parse_size(text)


# ----------------------------------------------------------------------------------- the command
def test_command_prints_the_table_and_fits(capsys):
    small = ["trainer.eval_batch_size=8", "--prompt-len", "64"]
    rc = cli.main(["memory", "--config", str(TINY), *small, "--device-memory", "16GB"])
    out = capsys.readouterr().out
    assert rc == 0
    plan = _plan(TINY, "trainer.eval_batch_size=8", prompt_len=64)
    peak = plan.peak()
    assert f"fits: peak {peak.peak / (1 << 30):.2f} GiB of 16 GiB ({peak.name};" in out
    assert "mesh    data 1 x fsdp 1 x tensor 1 = 1 device(s)" in out
    assert peak.peak < 1 << 30  # a small plan reads in MiB
    row = next(line for line in out.splitlines() if line.startswith("params "))
    assert row.split()[1:] == [f"{TINY_PARAMS * 4 / (1 << 20):.2f}"] * 3 == ["0.35"] * 3
    row = next(line for line in out.splitlines() if line.startswith("KV cache "))
    # 8 rows (rollout: 2 prompts x 4; held-out: eval_batch_size 8) x (64 + 16) slots x 2 x 2 x 16 x 2 x 4 B
    assert row.split()[2:] == ["-", f"{8 * 80 * 2 * 2 * 16 * 2 * 4 / (1 << 20):.2f}"] * 1 + ["0.31"] \
        == ["-", "0.31", "0.31"]


def test_command_does_not_fit_names_the_setting(capsys):
    rc = cli.main(["memory", "--config", str(TINY), "trainer.eval_batch_size=4", "--device-memory", "4MB"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert rc == 1
    assert line.startswith("does not fit: peak ") and "> 0.003906 GiB per device in the " in line
    plan = _plan(TINY, "trainer.eval_batch_size=4")
    worst = plan.peak()
    part, size = worst.largest()
    assert f"in the {worst.name}; largest part: {part} {size / (1 << 30):.2f} GiB (" in line
    fits, text = verdict(plan, worst.peak)
    assert fits and text.startswith("fits:")
    fits, text = verdict(plan, worst.peak - 1)
    assert not fits and text.startswith("does not fit:")
    assert verdict(plan, 4 << 20) == (False, line)


def test_activations_verdict_names_micro_batch_and_remat():
    plan = _plan(DEFAULT, "model.remat=false", prompt_len=160)  # the default config without remat
    train = _phase(plan, TRAIN)
    assert train.largest()[0] == "activations"
    fits, line = verdict(plan, train.peak // 2)
    assert not fits and "in the train step; largest part: activations" in line
    # with remat the optimizer state outweighs the activations here
    with_remat = verdict(_plan(DEFAULT, "model.remat=true", "trainer.eval_batch_size=16", prompt_len=160),
                         1 << 30)[1]
    assert with_remat.endswith("train step; largest part: optimizer state 1.00 GiB (AdamW keeps two float32 "
                               "moments per trained parameter: model.lora.rank=16 trains adapters only / more "
                               "mesh.fsdp)")
    # remat already on: the advice leaves it out
    pod_config = ROOT / "configs" / "tpu_pod.yaml"
    pod = verdict(_plan(pod_config, "trainer.prompts_per_step=256", "trainer.micro_batch_size=512",
                        prompt_len=256), 16 << 30)[1]
    assert pod.startswith("does not fit: peak 24.58 GiB > 16 GiB per device in the train step; largest part: "
                          "activations 22.18 GiB (trainer.micro_batch_size=512 (32 rows per device) x 1279 tokens")
    assert pod.endswith("model.remat=true: reduce trainer.micro_batch_size / more mesh.fsdp)")
    shipped = verdict(_plan(pod_config, prompt_len=256), 16 << 30)[1]  # the config as shipped fits a v5e chip
    assert shipped.startswith("fits: peak 13.18 GiB of 16 GiB (rollout"), shipped
    assert "trainer.micro_batch_size=16 (16 rows per device) x 255 tokens, model.remat=false: reduce " \
           "trainer.micro_batch_size / enable model.remat / more mesh.fsdp" in line


@pytest.mark.parametrize("argv, message", [
    (["--device-memory", "eighty"], "--device-memory 'eighty': expected a size with a unit, e.g. 80GB"),
    (["model.name=nobody/nothing"], "model.name 'nobody/nothing': no config.json found"),
    (["--model-config", "/nonexistent/config.json"], "model config not found: /nonexistent/config.json"),
    (["--devices", "3", "mesh.data=1", "mesh.fsdp=-1", "mesh.tensor=2"],
     "--devices 3 is not divisible by the fixed mesh axes (2)"),
    (["mesh.data=3", "--devices", "3"], "trainer.prompts_per_step x sampling.group_size = 8 rows must divide by "
                                        "the mesh's data x fsdp = 3"),
])
def test_command_errors_name_the_setting(capsys, argv, message):
    rc = cli.main(["memory", "--config", str(TINY), *argv])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2
    assert err.startswith("error: ") and message in err


# ------------------------------------------------------------------------ against XLA and a real step
# XLA's CPU backend computes bfloat16 in float32 (its temporaries are float32), so these checks run the
# float32 plans; on accelerators bf16 activations take the 2 bytes the plan counts.
TOLERANCE = 0.25


def _compiled(config: Path, overrides: list[str], prompt_len: int):
    from rlar_jax.memory_xla import compiled_train_step

    plan = _plan(config, *overrides, prompt_len=prompt_len)
    return plan, compiled_train_step(load_config(config, overrides), plan.model, plan.shapes)


@pytest.mark.parametrize("overrides", [
    [], ["model.remat=true"], ["model.lora.rank=4"],
    pytest.param(["mesh.data=1", "mesh.fsdp=2"], marks=pytest.mark.slow),
    pytest.param(["trainer.micro_batch_size=4"], marks=pytest.mark.slow),
])
def test_tiny_train_step_plan_matches_xla_compiled_analysis(overrides):
    """The plan's train-step peak against XLA's memory analysis of the trainer's real step compiled for
    the same mesh (this process has 8 simulated CPU devices). Fitted: no remat +1%, remat +13%, fsdp 2
    -14%, micro-batches of 4 +1%."""
    plan, compiled = _compiled(TINY, ["trainer.prompts_per_step=4", *overrides], 128)
    predicted = _phase(plan, TRAIN).peak
    assert abs(predicted - compiled["peak"]) <= TOLERANCE * compiled["peak"], (predicted, compiled)


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [["model.remat=false"], ["model.remat=true"],
                                       ["model.frozen_layers=20", "model.remat=false"],
                                       ["model.frozen_layers=20", "model.remat=true"]])
def test_smollm2_train_step_plan_matches_xla_compiled_analysis(overrides):
    """configs/default.yaml (SmolLM2-135M, 16 rows of 160 + 96 tokens): 12.0 GiB planned vs 11.9 GiB
    compiled without remat, 2.77 vs 2.68 GiB with remat (the default), 6.24 vs 5.95 GB with the lowest 20 layers frozen and
    2.93 vs 2.69 GB frozen with remat (compiling takes ~25 s each, nothing is allocated). A 2-layer model
    with one frozen layer is no check: XLA fuses its one-layer scans and keeps 40% less than planned."""
    plan, compiled = _compiled(DEFAULT, overrides, 160)
    predicted = _phase(plan, TRAIN).peak
    assert abs(predicted - compiled["peak"]) <= TOLERANCE * compiled["peak"], (predicted, compiled)


def _available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [["model.remat=true"], ["model.remat=false"]])
def test_smollm2_train_step_peak_is_predicted_within_25_percent_of_a_measured_step(overrides):
    """One real train step of configs/default.yaml on this CPU, in a fresh process: the measured peak is
    the live arguments (params, AdamW state, batch) plus the resident-set growth during the step. With
    remat (the default): 2.77 GiB predicted, 2.77 GiB measured (3 to 4 minutes). Without remat, the step needs ~12 GiB and
    runs only where that much memory is free."""
    from rlar_jax.memory_xla import run_subprocess

    plan = _plan(DEFAULT, *overrides, prompt_len=160)
    predicted = _phase(plan, TRAIN).peak
    if _available_bytes() < 1.3 * predicted + (2 << 30):
        # Conditional: measuring a step the machine cannot hold would measure swapping or an OOM kill.
        pytest.skip(f"needs ~{predicted / (1 << 30):.1f} GiB free for one step")
    measured = run_subprocess("measure", DEFAULT, overrides, 1, prompt_len=160, timeout=1800)
    assert measured["live_arguments"] == pytest.approx(sum(_phase(plan, TRAIN).parts[k] for k in (
        "params", "optimizer state", "batch")), rel=1e-3)
    assert abs(predicted - measured["measured_peak"]) <= TOLERANCE * measured["measured_peak"], (predicted, measured)
    assert abs(measured["compiled"]["peak"] - measured["measured_peak"]) <= TOLERANCE * measured["measured_peak"]
