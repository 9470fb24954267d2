"""Config schema: YAML, dotted overrides, named errors."""

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
