"""Named datasets: small copies bundled with the package, and the full sets on the Hugging Face hub.

A data path in a config (`data.train_path`, `data.eval_path`, `data.tasks[i].path` / `train_path` /
`eval_path` / `reference_path`) is one of
  NAME:SPLIT     a bundled set of this registry, e.g. `gsm8k:train`, `wmt22:en-de`, `llmbar:natural`
                 (`NAME` alone when the set has one split, e.g. `mbpp`)
  a local file   absolute, or relative to the config file's directory, else the working directory, else
                 the repository root (JSONL, JSON, plain text; each may be gzip-compressed, `.gz`)
  owner/name[:split]  a Hugging Face hub dataset read through `datasets.load_dataset` (network or HF cache)
`rlar-jax data list` shows the names; `rlar-jax data pull NAME` prints a bundled set's files or puts a hub
set into the HF cache. Bundled files and their licenses: `bundled/SOURCES.md`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable
from pathlib import Path

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class DatasetError(ValueError):
    """A data source names an unknown dataset or split, or a file that does not exist."""


@dataclasses.dataclass(frozen=True)
class DatasetEntry:
    """One named dataset: bundled files (split -> path under `bundled/`) or a hub dataset's splits."""

    name: str
    kind: str  # the `data.tasks[i].kind` that reads it
    description: str
    splits: dict[str, str]  # bundled: split -> file under BUNDLED_DIR; hub: split -> hub split name
    hub: str | None = None  # hub entries: the repo id given to datasets.load_dataset
    hub_config: str | None = None  # hub entries: the dataset configuration (e.g. "main")
    full: str | None = None  # bundled entries: the registry name of the full set on the hub

    @property
    def bundled(self) -> bool:
        """True for files shipped with the package."""
        return self.hub is None

    def files(self) -> dict[str, Path]:
        """Bundled entries: split -> absolute file path (present or not)."""
        if not self.bundled:
            raise DatasetError(f"dataset {self.name!r} is on the Hugging Face hub, not bundled")
        return {split: BUNDLED_DIR / rel for split, rel in self.splits.items()}


def _wmt(pair: str) -> str:
    src = pair.split("-")[0]
    return f"wmt22/generaltest2022.{pair}.src.{src}.gz"


_ENTRIES: tuple[DatasetEntry, ...] = (
    # ---- bundled (offline) copies
    DatasetEntry("gsm8k", "gsm8k", "GSM8K grade-school math word problems (all 7473 train, first 1000 test)",
                 {"train": "gsm8k/train.jsonl.gz", "test": "gsm8k/test.jsonl.gz"}, full="openai/gsm8k"),
    DatasetEntry("math500", "math", "MATH-500 competition problems (first 400)",
                 {"test": "math500/test.jsonl.gz"}, full="HuggingFaceH4/MATH-500"),
    DatasetEntry("mbpp", "mbpp", "MBPP Python problems, all 974 (the loader splits by task id: "
                                 "train 511-974, test 11-510)",
                 {"all": "mbpp/mbpp.jsonl.gz"}, full="google-research-datasets/mbpp"),
    DatasetEntry("hh_rlhf_harmless", "hh", "HH-RLHF harmless-base dialogues, chosen vs rejected (first 2000 test)",
                 {"test": "hh_rlhf_harmless/test.jsonl.gz"}, full="Anthropic/hh-rlhf"),
    DatasetEntry("llmbar", "llmbar", "LLMBar instruction-following preference pairs (Natural, Adversarial)",
                 {"natural": "llmbar/Natural.json.gz", "neighbor": "llmbar/Adversarial_Neighbor.json.gz",
                  "gptinst": "llmbar/Adversarial_GPTInst.json.gz"}),
    DatasetEntry("wmt22", "wmt", "WMT22 general test sets: source files (the reference file lies beside)",
                 {pair: _wmt(pair) for pair in ("en-de", "de-en", "en-zh")}),
    DatasetEntry("ifgen", "constraints", "generated instruction-following prompts with verifiable constraints",
                 {"train": "ifgen/train.jsonl.gz", "eval": "ifgen/eval.jsonl.gz"}),
    DatasetEntry("arith", "gsm8k", "generated arithmetic word problems (GSM8K format)",
                 {"train": "arith/train.jsonl.gz", "eval": "arith/eval.jsonl.gz"}),
    # ---- full sets on the Hugging Face hub
    DatasetEntry("openai/gsm8k", "gsm8k", "GSM8K, full", {"train": "train", "test": "test"},
                 hub="openai/gsm8k", hub_config="main"),
    DatasetEntry("HuggingFaceH4/MATH-500", "math", "MATH-500, full", {"test": "test"}, hub="HuggingFaceH4/MATH-500"),
    DatasetEntry("google-research-datasets/mbpp", "mbpp", "MBPP, full (hub splits: use train_path / eval_path)",
                 {s: s for s in ("train", "test", "validation", "prompt")},
                 hub="google-research-datasets/mbpp", hub_config="full"),
    DatasetEntry("Anthropic/hh-rlhf", "hh", "HH-RLHF, all subsets (helpful and harmless)",
                 {"train": "train", "test": "test"}, hub="Anthropic/hh-rlhf"),
    DatasetEntry("openai/openai_humaneval", "humaneval", "HumanEval", {"test": "test"},
                 hub="openai/openai_humaneval"),
)

REGISTRY: dict[str, DatasetEntry] = {e.name: e for e in _ENTRIES}

# A path with one of these endings is a local file, never a hub name.
DATA_SUFFIXES = (".jsonl", ".json", ".gz", ".txt", ".csv", ".tsv", ".parquet", ".arrow")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(:[\w.-]+)?$")
_WMT_FILE = re.compile(r"\.(src|ref)\.")


def known() -> list[str]:
    """Every registered name."""
    return sorted(REGISTRY, key=str.lower)


def get(name: str) -> DatasetEntry:
    """The entry of `name`; DatasetError listing the known names otherwise."""
    if name not in REGISTRY:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(known())}")
    return REGISTRY[name]


def parse_spec(spec: str) -> tuple[DatasetEntry, str | None] | None:
    """(entry, split or None) when `spec` is `NAME` or `NAME:SPLIT` of a registered name, else None."""
    text = str(spec)
    if text in REGISTRY:
        return REGISTRY[text], None
    name, sep, split = text.rpartition(":")
    if sep and name in REGISTRY:
        return REGISTRY[name], split
    return None


def _split_of(entry: DatasetEntry, split: str | None) -> str:
    if split is None:
        if len(entry.splits) == 1:
            return next(iter(entry.splits))
        raise DatasetError(f"dataset {entry.name!r} has splits {', '.join(entry.splits)}; "
                           f"name one, e.g. {entry.name}:{next(iter(entry.splits))}")
    if split not in entry.splits:
        raise DatasetError(f"dataset {entry.name!r} has no split {split!r}; splits: {', '.join(entry.splits)}")
    return split


def bundled_file(name: str, split: str | None = None) -> Path:
    """The bundled file of `name` (and `split`); DatasetError when unknown, hub-only or not installed."""
    entry = get(name)
    if not entry.bundled:
        raise DatasetError(f"dataset {name!r} is on the Hugging Face hub, not bundled")
    path = entry.files()[_split_of(entry, split)]
    if not path.is_file():
        raise DatasetError(f"dataset {name!r}: bundled file not found: {path}")
    return path


def is_hub_name(text: str) -> bool:
    """True when `text` reads as a hub dataset `owner/name[:split]` rather than a local file."""
    if not _HUB_ID.match(text) or text.startswith("."):
        return False
    repo = text.partition(":")[0]
    return not (repo.lower().endswith(DATA_SUFFIXES) or _WMT_FILE.search(repo))


def resolve(value: str, bases: Iterable[str | Path] = ()) -> str:
    """Where a data source's rows are: a bundled registry name becomes its file, a relative local file its
    first existing candidate under `bases` (default: the working directory, then the repository root),
    a hub name stays as it is (a registered hub entry with its hub split name).

    DatasetError for an unknown split, a bundled file missing from the install, or a local file that
    exists nowhere (naming the places looked at).
    """
    text = str(value)
    parsed = parse_spec(text)
    if parsed is not None:
        entry, split = parsed
        if entry.bundled:
            return str(bundled_file(entry.name, split))
        hub_split = _split_of(entry, split) if split is not None else None
        return entry.hub + (f":{entry.splits[hub_split]}" if hub_split else "")
    path = Path(text).expanduser()
    if path.is_absolute():
        if path.exists():
            return str(path)
        raise DatasetError(f"data file not found: {text}")
    places = _unique([Path(b).resolve() for b in bases] or [Path.cwd(), PROJECT_ROOT])
    for base in places:
        candidate = base / path
        if candidate.exists():
            return str(candidate)
    if is_hub_name(text):
        return text
    if ":" in text and "/" not in text and not text.lower().endswith(DATA_SUFFIXES):
        raise DatasetError(f"{text!r} is neither a data file nor a known dataset; known: {', '.join(known())}")
    raise DatasetError(f"data file not found: {text} (looked under {', '.join(map(str, places))})")


def _unique(paths: Iterable[Path]) -> list[Path]:
    return list(dict.fromkeys(paths))


# ------------------------------------------------------------------------------------------ hub and sizes


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def hub_cache_dir(entry: DatasetEntry) -> Path:
    """Where huggingface_hub keeps the files of a hub entry (present only once pulled)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE) / ("datasets--" + entry.hub.replace("/", "--"))


def size(entry: DatasetEntry) -> int | None:
    """Bytes on disk: a bundled entry's files (None when none is installed), a hub entry's cached files
    (None when not pulled)."""
    if entry.bundled:
        files = [p for p in entry.files().values() if p.is_file()]
        return sum(p.stat().st_size for p in files) if files else None
    cached = hub_cache_dir(entry)
    return _dir_size(cached) if cached.is_dir() else None


def list_datasets() -> list[dict[str, object]]:
    """Every entry as {name, kind, splits, source, size (bytes or None), description}."""
    rows = []
    for name in known():
        e = REGISTRY[name]
        source = "bundled" if e.bundled else f"hub:{e.hub}" + (f" ({e.hub_config})" if e.hub_config else "")
        rows.append({"name": name, "kind": e.kind, "splits": list(e.splits), "source": source,
                     "size": size(e), "description": e.description, "full": e.full})
    return rows


class HubUnavailable(RuntimeError):
    """A hub dataset was asked for, the hub cannot be reached and the set is not cached."""


def pull(name: str) -> dict[str, object]:
    """Bundled: {split: local path}. Hub: download every split through `datasets.load_dataset` into the
    HF cache and return {split: rows}. HubUnavailable when offline and not cached."""
    spec = parse_spec(name)
    if spec is None:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(known())}")
    entry, split = spec
    splits = [_split_of(entry, split)] if split is not None else list(entry.splits)
    if entry.bundled:
        return {s: bundled_file(entry.name, s) for s in splits}
    import datasets

    out: dict[str, object] = {}
    for s in splits:
        try:
            ds = datasets.load_dataset(entry.hub, entry.hub_config, split=entry.splits[s])
        except Exception as e:  # offline, HF_HUB_OFFLINE, DNS failure, not cached: all end up here
            if not _looks_offline(e):
                raise
            raise HubUnavailable(_offline_message(entry, s, e)) from e
        out[s] = len(ds)
    return out


def _looks_offline(error: BaseException) -> bool:
    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("HF_DATASETS_OFFLINE", ""))
    if any(f not in ("", "0") for f in flags) or isinstance(error, (OSError, ConnectionError, TimeoutError)):
        return True
    names = {c.__name__ for c in type(error).__mro__}
    return any(k in n for n in names for k in ("Connect", "Timeout", "Offline", "LocalEntryNotFound", "NotFound"))


def _offline_message(entry: DatasetEntry, split: str, error: BaseException) -> str:
    config = f", config {entry.hub_config}" if entry.hub_config else ""
    bundled = [e.name for e in REGISTRY.values() if e.full == entry.name]
    also = f" The bundled copy {bundled[0]!r} works offline (rlar-jax data pull {bundled[0]})." if bundled else ""
    return (f"asked for hub dataset {entry.hub}{config}, split {split}: the Hugging Face hub cannot be reached "
            f"(offline or HF_HUB_OFFLINE set) and the set is not in the local cache "
            f"({type(error).__name__}: {str(error)[:200]}). Pull it on a machine with network access, or point "
            f"data.train_path / data.eval_path (or data.tasks[i].path) at a local file, e.g. "
            f"data.train_path=/path/to/train.jsonl.{also}")
