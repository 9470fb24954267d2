"""One cache root for models, the sandbox guest and reward models: `$RLAR_JAX_HOME`."""

from pathlib import Path


def test_every_cache_follows_one_root(monkeypatch, tmp_path):
    from rlar_jax.home import rlar_home
    from rlar_jax.models import sources
    from rlar_jax.rewards.catalog import Catalog
    from rlar_jax.sandbox import build

    monkeypatch.setenv("RLAR_JAX_HOME", str(tmp_path))
    assert rlar_home() == tmp_path == sources.home()
    assert sources.cache_dir("x") == tmp_path / "models" / "x"
    assert build.guest_path().parent == tmp_path / "sandbox"
    assert Catalog().registry_dir == tmp_path / "reward_models"
    assert rlar_home("/elsewhere") == Path("/elsewhere")
    monkeypatch.setenv("RLAR_JAX_HOME", "~/rlar-cache")
    assert rlar_home() == Path.home() / "rlar-cache" == sources.home()
    monkeypatch.delenv("RLAR_JAX_HOME")
    assert rlar_home() == Path.home() / ".cache" / "rlar_jax"
