"""Config schema: YAML, dotted overrides, named errors."""

import re
from pathlib import Path

import pytest

from rlar_jax.config import ConfigError, ExperimentConfig, apply_override, build, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_and_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("trainer:\n  steps: 5\nsampling:\n  temperature: 1\n")
    cfg = load_config(p, ["trainer.steps=20", "loss.beta=0.04", "model.random_config={vocab_size: 64}"])
    assert cfg.trainer.steps == 20
    assert cfg.sampling.temperature == 1.0 and isinstance(cfg.sampling.temperature, float)
    assert cfg.loss.beta == pytest.approx(0.04)
    assert cfg.model.random_config == {"vocab_size": 64}
    assert cfg.trainer.prompts_per_step == ExperimentConfig().trainer.prompts_per_step


def test_evolution_knobs_reach_the_reward_library(tmp_path):
    from rlar_jax.rewards.system import build_rlar_engine

    cfg = load_config(None, ["rewards.evolution.zero_variance_fraction=0.9", "rewards.evolution.min_groups=4"])
    assert cfg.rewards.evolution.zero_variance_fraction == 0.9 and cfg.rewards.evolution.window == 256
    engine = build_rlar_engine(cfg.rewards, tmp_path, backend=None)
    try:
        assert engine.library.evolution == cfg.rewards.evolution
    finally:
        engine.library.close()


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.stepz=3", "unknown config key(s) trainer.stepz"),
        ("trainer.steps=abc", "trainer.steps: expected int, got str 'abc'"),
        ("trainer.steps=true", "trainer.steps: expected int, got bool True"),
        ("loss.loss_type=ppo", "loss.loss_type: expected one of 'grpo' | 'dr_grpo' | 'dapo' | 'bnpo', got 'ppo'"),
        ("sampling.temperature=[1]", "sampling.temperature: expected float, got list [1]"),
        ("bogus.x=1", "unknown config key(s) bogus"),
        ("trainer=3", "trainer: expected a mapping"),
        ("distributed.num_processes=two", "distributed.num_processes: expected int | null, got str 'two'"),
        ("rewards.evolution.zero_variance_fraction=1.5",
         "rewards.evolution: zero_variance_fraction: expected a number in [0, 1], got 1.5"),
        ("rewards.evolution.windw=3", "unknown config key(s) rewards.evolution.windw"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError) as e:
        load_config(None, [override])
    assert message in str(e.value)


@pytest.mark.parametrize("key, registry", [("loss_type", "rlar_jax.losses:LOSSES"),
                                           ("advantage_estimator", "rlar_jax.advantages:ADVANTAGES")])
def test_algorithm_names_are_checked_against_their_registries(key, registry):
    import importlib

    module, name = registry.split(":")
    names = list(getattr(importlib.import_module(module), name))
    with pytest.raises(ConfigError) as e:
        load_config(ROOT / "configs" / "tiny.yaml", [f"loss.{key}=ppo2"])
    listed = " | ".join(map(repr, names))
    assert str(e.value).startswith(f"loss.{key}: expected one of {listed}, got 'ppo2' (register more with {module}.")
    assert len(names) >= 2
    with pytest.raises(ConfigError, match=rf"^loss\.{key}: expected str, got int 3$"):
        load_config(None, [f"loss.{key}=3"])
    cfg = load_config(None, [f"loss.{key}={names[-1]}"])  # any registered name is accepted
    assert getattr(cfg.loss, key) == names[-1]


def test_override_syntax_errors():
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_override({}, "trainer.steps")
    with pytest.raises(ConfigError, match="model: expected a mapping, got str"):
        build(ExperimentConfig, {"model": "x"})


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="config file not found: nope.yaml"):
        load_config("nope.yaml")


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_shipped_configs_parse(name):
    cfg = load_config(ROOT / "configs" / name)
    assert cfg.trainer.steps > 0 and cfg.sampling.group_size >= 2


# YAML 1.1 reads scientific notation without a dot (1e-6, 5E3) as a string; float keys accept it.
@pytest.mark.parametrize("text, value", [("1e-6", 1e-6), ("5E3", 5000.0), ("-2.5e+2", -250.0), ("+3e0", 3.0),
                                         (".5e-1", 0.05), ("2.", 2.0)])
def test_scientific_notation_where_a_float_is_expected(tmp_path, text, value):
    p = tmp_path / "c.yaml"
    p.write_text(f"optim:\n  learning_rate: {text}\nloss:\n  dual_clip: {text}\n")
    cfg = load_config(p)
    assert cfg.optim.learning_rate == pytest.approx(value) and isinstance(cfg.optim.learning_rate, float)
    assert cfg.loss.dual_clip == pytest.approx(value) and isinstance(cfg.loss.dual_clip, float)  # float | None
    cfg = load_config(None, [f"optim.learning_rate={text}", f"loss.dual_clip={text}",
                             f"rewards.agent.timeout_s={text.lstrip('-')}"])  # a timeout must be > 0
    assert cfg.optim.learning_rate == pytest.approx(value) and isinstance(cfg.optim.learning_rate, float)
    assert cfg.loss.dual_clip == pytest.approx(value) and cfg.rewards.agent.timeout_s == pytest.approx(abs(value))


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "Infinity", "1e-x", "1e", "e5", "0x10", "1_000", "", "one"])
def test_strings_that_are_not_decimal_numbers_stay_errors(text):
    with pytest.raises(ConfigError, match="optim.learning_rate: expected float, got str"):
        load_config(None, [f"optim.learning_rate='{text}'"])
    with pytest.raises(ConfigError, match=r"loss.dual_clip: expected float \| null, got str"):
        load_config(None, [f"loss.dual_clip='{text}'"])


def test_number_strings_stay_strings_for_str_and_int_keys():
    cfg = load_config(None, ["trainer.run_dir=1e-6", "model.name='1e3'"])
    assert cfg.trainer.run_dir == "1e-6" and cfg.model.name == "1e3"
    with pytest.raises(ConfigError, match="trainer.steps: expected int, got str '1e3'"):
        load_config(None, ["trainer.steps=1e3"])


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("trainer:\n  steps: 3\noptim:\n  learning_rate: [1, 2\nloss:\n  beta: 0\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value).startswith(f"{p}:5: invalid YAML: ")  # yaml counts lines from 0
    assert "flow sequence started on line 4" in str(e.value)
    p.write_text("trainer:\n  steps: 3\n  seed: a: b\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(p))}:3: invalid YAML: mapping values are not allowed here$"):
        load_config(p)


def test_override_with_bad_yaml_value_names_the_override():
    with pytest.raises(ConfigError, match=r"^override 'sampling.prompt_buckets=\[64,': invalid YAML value"):
        load_config(None, ["sampling.prompt_buckets=[64,"])


def test_sampling_section_is_the_sampler_schema_with_one_set_of_defaults():
    """Every SamplingConfig knob is settable from YAML, its default declared once; the section builds the
    training and held-out sampler settings."""
    import dataclasses

    from rlar_jax.config import SamplingSection
    from rlar_jax.sampling_config import SamplingConfig

    runtime = {f.name: f.default for f in dataclasses.fields(SamplingConfig)}
    section = {f.name: f.default for f in dataclasses.fields(SamplingSection)}
    assert set(section) == set(runtime) | {"eval_temperature"}
    assert {k: v for k, v in section.items() if v != runtime.get(k)} == {"group_size": 4, "eval_temperature": 0.0}

    cfg = load_config(ROOT / "configs" / "tiny.yaml", ["sampling.decode_chunk=16", "sampling.completion_bucket=8",
                                                       "sampling.max_decode_windows=2", "sampling.stop_token_ids=[7]",
                                                       "sampling.top_k=5", "sampling.eval_temperature=0.5"])
    train, held_out = cfg.sampling.rollout([2, 7]), cfg.sampling.held_out([2])
    assert type(train) is type(held_out) is SamplingConfig
    assert (train.decode_chunk, train.completion_bucket, train.max_decode_windows) == (16, 8, 2)
    assert train.stop_token_ids == (7, 2) and train.top_k == 5 and train.group_size == cfg.sampling.group_size == 4
    assert (held_out.temperature, held_out.group_size, held_out.top_k, held_out.top_p) == (0.5, 1, 0, 1.0)
    assert held_out.stop_token_ids == (7, 2) and held_out.decode_chunk == 0  # one window: see held_out()
    assert held_out.prompt_buckets == train.prompt_buckets == tuple(cfg.sampling.prompt_buckets)
    with pytest.raises(ConfigError, match="sampling: SamplingConfig.decode_chunk must be an int >= 0"):
        load_config(ROOT / "configs" / "tiny.yaml", ["sampling.decode_chunk=-1"])


def test_loss_section_is_the_objective_schema_and_builds_grpo_config():
    """GRPOConfig is the `loss` section plus G and the completion length from `sampling`: each knob and
    default is declared once, and every one set in YAML reaches the objective."""
    import dataclasses

    from rlar_jax.config import LossSection
    from rlar_jax.grpo_config import GRPOConfig
    from rlar_jax.trainer import grpo_config

    assert {f.name for f in dataclasses.fields(GRPOConfig)} - {f.name for f in dataclasses.fields(LossSection)} == \
        {"max_completion_length", "group_size"}
    cfg = load_config(ROOT / "configs" / "tiny.yaml", ["loss.epsilon_high=0.3", "loss.dual_clip=3", "loss.beta=0.01",
                                                       "loss.kl_estimator=k1", "loss.rollout_is=token",
                                                       "loss.advantage_estimator=rloo", "sampling.max_new_tokens=24"])
    g = grpo_config(cfg)
    assert (g.epsilon_high, g.dual_clip, g.beta, g.kl_estimator, g.rollout_is, g.advantage_estimator) == \
        (0.3, 3.0, 0.01, "k1", "token", "rloo")
    assert (g.max_completion_length, g.group_size, g.loss_type) == (24, 4, "dapo") and g.needs_reference
    with pytest.raises(ValueError, match="GRPOConfig.group_size must be an int >= 2"):
        grpo_config(load_config(ROOT / "configs" / "tiny.yaml", ["sampling.group_size=1"]))
