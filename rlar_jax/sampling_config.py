"""SamplingConfig: how completions are sampled; the one declaration of every sampler knob.

The YAML `sampling` section (`rlar_jax.config.SamplingSection`) is this class plus the held-out temperature,
and builds the sampler's settings through :meth:`SamplingSection.rollout` / :meth:`SamplingSection.held_out`,
so a knob and its default exist once. No jax import: the config loads without it.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SamplingConfig:
    """How completions are sampled. Invalid values raise ValueError naming the field."""

    # Completion tokens per row: the decode budget (a completion that reaches it is "truncated").
    max_new_tokens: int = 128
    # Softmax temperature; 0 decodes greedily (argmax).
    temperature: float = 1.0
    # Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p (1 = off).
    top_p: float = 1.0
    # Keep the k most likely tokens (0 = off).
    top_k: int = 0
    # Completions per prompt (GRPO's G); rows are prompt-major: row i*G + g is prompt i, sample g.
    group_size: int = 1
    # Extra stop ids, on top of the tokenizer's end-of-turn ids (which runs always add).
    stop_token_ids: tuple[int, ...] = ()
    # Prompts are left-padded to the smallest bucket that fits (longer prompts: to a multiple of the
    # largest bucket); each bucket is one compiled shape, so the list bounds recompilation.
    prompt_buckets: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048, 4096)
    # Returned completion arrays are cut to the longest completion rounded up to a multiple of this
    # (capped at max_new_tokens), so the update and log-prob passes see few distinct lengths.
    completion_bucket: int = 32
    # Attention-window growth in cache slots: each window is one compiled decode loop that attends over
    # the slots filled so far, so attention cost follows the current length (0 = one window, whole cache).
    decode_chunk: int = 64
    # Cap on the number of windows (the growth is raised to fit): compile time grows with every window
    # (~one decode-step graph each), attention cost shrinks with more.
    max_decode_windows: int = 4

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, expected: str) -> None:
            if not ok:
                raise ValueError(f"SamplingConfig.{field} must be {expected}, got {getattr(self, field)!r}")

        need(isinstance(self.max_new_tokens, int) and self.max_new_tokens >= 1, "max_new_tokens", "an int >= 1")
        need(self.temperature >= 0, "temperature", ">= 0 (0 = greedy)")
        need(0 < self.top_p <= 1, "top_p", "in (0, 1]")
        need(isinstance(self.top_k, int) and self.top_k >= 0, "top_k", "an int >= 0 (0 = off)")
        need(isinstance(self.group_size, int) and self.group_size >= 1, "group_size", "an int >= 1")
        need(all(isinstance(i, int) and i >= 0 for i in self.stop_token_ids), "stop_token_ids",
             "a tuple of non-negative ints")
        need(len(self.prompt_buckets) > 0 and all(isinstance(b, int) and b > 0 for b in self.prompt_buckets)
             and list(self.prompt_buckets) == sorted(self.prompt_buckets), "prompt_buckets",
             "a non-empty increasing tuple of positive ints")
        need(isinstance(self.completion_bucket, int) and self.completion_bucket >= 1, "completion_bucket",
             "an int >= 1")
        need(isinstance(self.decode_chunk, int) and self.decode_chunk >= 0, "decode_chunk", "an int >= 0")
        need(isinstance(self.max_decode_windows, int) and self.max_decode_windows >= 1, "max_decode_windows",
             "an int >= 1")

    def sampler(self, eos_ids: tuple[int, ...] | list[int] = (), **changes: object) -> "SamplingConfig":
        """A plain SamplingConfig with these settings, the tokenizer's `eos_ids` added to the stop ids and
        `changes` applied (what a YAML section hands to the sampler)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(SamplingConfig)}
        values["stop_token_ids"] = tuple(dict.fromkeys((*self.stop_token_ids, *eos_ids)))
        values.update(changes)
        return SamplingConfig(**values)
