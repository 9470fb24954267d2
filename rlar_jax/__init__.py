"""rlar-jax: a JAX-native GRPO trainer with an agentic, sandboxed reward system."""

__version__ = "0.1.0"
