"""The data layer: examples and the malformed-row policy (`examples`), row readers (`readers`), loaders of
each task kind (registered by name with `register_dataset_kind`), the weighted task mixture, and the
reward-benchmark suite built from them."""

from rlar_jax.datasets.kinds import DATASET_KINDS, register_dataset_kind
from rlar_jax.datasets.mixture import LoadReport, interleave, load_source, load_split, task_split
from rlar_jax.datasets.problems import load_humaneval, load_jsonl, load_math, load_mbpp
from rlar_jax.datasets.text import PreferencePair, load_hh, load_llmbar, load_pairs, load_wmt, parse_dialogue

__all__ = [
    "DATASET_KINDS", "register_dataset_kind", "LoadReport", "interleave", "load_source", "load_split", "task_split",
    "load_humaneval", "load_jsonl", "load_math", "load_mbpp",
    "PreferencePair", "load_hh", "load_llmbar", "load_pairs", "load_wmt", "parse_dialogue",
]
