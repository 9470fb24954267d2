"""Short names for the core data API, which lives in `rlar_jax.datasets`:

- `rlar_jax.datasets.examples`: `Example`, `DataError`, `RowErrors`, row helpers (`require`, `collect`,
  `chat`) and batching (`shuffled`, `batch_at`);
- `rlar_jax.datasets.readers`: file / hub row readers (`iter_rows`, `read_jsonl`, `read_json_list`,
  `read_text`, `open_text`) and `resolve_path`;
- `rlar_jax.datasets.problems`: the GSM8K loader (`load_gsm8k`, `GSM8K_INSTRUCTION`) beside the other
  problem-set loaders.
"""

from rlar_jax.datasets.examples import (DataError, Example, RowErrors, batch_at, chat, collect, raise_or_skip, require,
                                        shuffled)
from rlar_jax.datasets.problems import GSM8K_INSTRUCTION, gsm8k_final_answer, load_gsm8k
from rlar_jax.datasets.readers import iter_rows, open_text, read_json_list, read_jsonl, read_text, resolve_path

__all__ = [
    "DataError", "Example", "RowErrors", "batch_at", "chat", "collect", "raise_or_skip", "require", "shuffled",
    "GSM8K_INSTRUCTION", "gsm8k_final_answer", "load_gsm8k",
    "iter_rows", "open_text", "read_json_list", "read_jsonl", "read_text", "resolve_path",
]
