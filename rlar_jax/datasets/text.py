"""Loaders of open-text tasks: WMT translation (line-aligned files), HH-RLHF dialogues and LLMBar pairs.

Translation examples carry the reference translation and `language_pair` in meta (chrF/BLEU verifiers).
Dialogue examples are the conversation up to its last "Assistant:" turn as chat messages; the same rows
also give `PreferencePair`s (chosen vs rejected final reply) for reward-model training and benchmarks.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from rlar_jax.datasets.examples import DataError, Example, RowErrors, chat, collect, dialogue_prompt, require
from rlar_jax.datasets.readers import iter_rows, read_text
from rlar_jax.languages import LANGUAGES

# ISO code -> English name (the first name listed for a code in the planner's language table).
LANGUAGE_NAMES: dict[str, str] = {}
for _name, _code in LANGUAGES.items():
    LANGUAGE_NAMES.setdefault(_code, _name.capitalize())

_WMT_NAME = re.compile(r"^(?P<stem>.*?)\.?(?P<src>[a-z]{2,3})-(?P<tgt>[a-z]{2,3})\.src\.(?P<lang>[a-z]{2,3})$")
_TURN = re.compile(r"\n\n(Human|Assistant):[ \t]?")


@dataclasses.dataclass(frozen=True)
class PreferencePair:
    """A prompt (chat messages ending with the user turn) with a preferred and a dispreferred reply."""

    messages: tuple[dict[str, str], ...]
    chosen: str
    rejected: str
    task: str = ""
    uid: str = ""

    @property
    def query(self) -> str:
        """The last user message."""
        return self.messages[-1]["content"]

    @property
    def prompt(self) -> str:
        """The prompt as one text (`dialogue_prompt`)."""
        return dialogue_prompt(self.messages)


def language_name(code: str) -> str:
    """English name of an ISO language code (the code itself when unknown)."""
    return LANGUAGE_NAMES.get(code, code)


def parse_language_pair(pair: str, where: str) -> tuple[str, str]:
    """("en", "de") from "en-de" (or "en_de"); DataError naming `where` otherwise."""
    m = re.fullmatch(r"([a-z]{2,3})[-_]([a-z]{2,3})", pair.strip().lower())
    if not m:
        raise DataError(f"{where}: language pair must look like 'en-de', got {pair!r}")
    return m.group(1), m.group(2)


def translation_prompt(source: str, src: str, tgt: str) -> str:
    """The user turn asking for a translation (names the target language so query analysis agrees)."""
    return (f"Translate the following {language_name(src)} text into {language_name(tgt)}. "
            f"Reply with the translation only.\n\n{source}")


def wmt_files(source_path: str | Path, reference_path: str | Path | None = None,
              language_pair: str | None = None) -> tuple[Path, Path, str, str]:
    """(source file, reference file, src code, tgt code) for a WMT source file such as
    `generaltest2022.en-de.src.en` (or `.gz` of it); the reference defaults to the sorted first
    `<stem>.en-de.ref.*.de` (or `.gz` of it)."""
    src_path = Path(source_path)
    m = _WMT_NAME.match(src_path.name.removesuffix(".gz"))
    if language_pair:
        src, tgt = parse_language_pair(language_pair, "language_pair")
    elif m:
        src, tgt = m.group("src"), m.group("tgt")
    else:
        raise DataError(f"{src_path}: cannot read the language pair from the file name "
                        "(expected <name>.<src>-<tgt>.src.<src>); set language_pair")
    if reference_path is None:
        if not m:
            raise DataError(f"{src_path}: no reference_path given and none can be derived from the file name")
        pattern = f"{m.group('stem')}.{m.group('src')}-{m.group('tgt')}.ref.*.{m.group('tgt')}".lstrip(".")
        refs = sorted(src_path.parent.glob(pattern)) or sorted(src_path.parent.glob(pattern + ".gz"))
        if not refs:
            raise FileNotFoundError(f"no reference file {src_path.parent / pattern} for {src_path}")
        reference_path = refs[0]
    return src_path, Path(reference_path), src, tgt


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    lines = read_text(path).split("\n")
    if lines and lines[-1] == "":  # the final newline does not start a line
        lines.pop()
    return lines


def load_wmt(path: str | Path, *, reference_path: str | Path | None = None, language_pair: str | None = None,
             system_prompt: str | None = None, limit: int | None = None, task: str = "wmt",
             config: str | None = None, errors: RowErrors | None = None) -> list[Example]:
    """Translation examples from line-aligned source/reference text files (see `wmt_files`), or from
    JSONL / hub rows with a `translation` object {src: text, tgt: text} (then `language_pair` is needed).

    A line-count mismatch is an error naming both files; an empty line is a malformed row.
    """
    name = str(path)
    if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz")) or not Path(path).exists():
        if not language_pair:
            raise DataError(f"{path}: rows with a 'translation' object need language_pair (e.g. en-de)")
        src, tgt = parse_language_pair(language_pair, "language_pair")

        def convert_row(where: str, row: dict[str, Any]) -> Example:
            pair = require(row, "translation", where, dict)
            for code in (src, tgt):
                if not isinstance(pair.get(code), str) or not pair[code].strip():
                    raise DataError(f"{where}: field 'translation' has no non-empty {code!r} text")
            return _translation(pair[src], pair[tgt], src, tgt, system_prompt, task, where)

        return collect(iter_rows(path, config, errors), convert_row, limit=limit, errors=errors)
    src_path, ref_path, src, tgt = wmt_files(path, reference_path, language_pair)
    sources, refs = _lines(src_path), _lines(ref_path)
    if len(sources) != len(refs):
        raise DataError(f"{src_path} has {len(sources)} lines but {ref_path} has {len(refs)}; "
                        "source and reference files must be line-aligned")

    def convert(where: str, row: dict[str, Any]) -> Example:
        if not row["source"].strip():
            raise DataError(f"{where}: empty source line")
        if not row["reference"].strip():
            raise DataError(f"{ref_path}:{row['line']}: empty reference line")
        return _translation(row["source"], row["reference"], src, tgt, system_prompt, task, where)

    rows = ((f"{src_path}:{i}", {"source": s, "reference": r, "line": i})
            for i, (s, r) in enumerate(zip(sources, refs), 1))
    return collect(rows, convert, limit=limit, errors=errors)


def _translation(source: str, reference: str, src: str, tgt: str, system: str | None, task: str,
                 where: str) -> Example:
    meta = {"language_pair": f"{src}-{tgt}", "source": source.strip()}
    return Example(chat(translation_prompt(source.strip(), src, tgt), system), reference.strip(), task, meta,
                   f"wmt:{src}-{tgt}:{where}")


def parse_dialogue(text: str, where: str, field: str) -> list[dict[str, str]]:
    """HH-RLHF dialogue text ("\\n\\nHuman: ...\\n\\nAssistant: ...") as chat messages; consecutive turns of
    one speaker are merged. It must start with a Human turn and end with an Assistant turn."""
    text = text if text.startswith("\n\n") else "\n\n" + text
    parts = _TURN.split(text)
    if parts[0].strip() or len(parts) < 5:
        raise DataError(f"{where}: field {field!r} is not a 'Human: ... Assistant: ...' dialogue")
    messages: list[dict[str, str]] = []
    for speaker, content in zip(parts[1::2], parts[2::2]):
        role = "user" if speaker == "Human" else "assistant"
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += "\n\n" + content.strip()
        else:
            messages.append({"role": role, "content": content.strip()})
    if messages[0]["role"] != "user" or messages[-1]["role"] != "assistant":
        raise DataError(f"{where}: field {field!r} must start with 'Human:' and end with an 'Assistant:' turn")
    return messages


def _hh_dialogues(row: dict[str, Any], where: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    return (parse_dialogue(require(row, "chosen", where), where, "chosen"),
            parse_dialogue(require(row, "rejected", where), where, "rejected"))


def _hh_row(row: dict[str, Any], where: str, system: str | None) -> tuple[tuple[dict[str, str], ...], str, str]:
    chosen, rejected = _hh_dialogues(row, where)
    if chosen[:-1] != rejected[:-1]:
        raise DataError(f"{where}: fields 'chosen' and 'rejected' differ before their final reply")
    prefix = tuple(({"role": "system", "content": system},) if system else ()) + tuple(chosen[:-1])
    return prefix, chosen[-1]["content"], rejected[-1]["content"]


def load_hh(path: str | Path, *, system_prompt: str | None = None, limit: int | None = None, task: str = "hh",
            config: str | None = None, errors: RowErrors | None = None) -> list[Example]:
    """HH-RLHF rows as dialogue prompts: the conversation up to its last Assistant turn; reference = the
    chosen final reply (what annotators preferred), meta `rejected` = the other one."""
    def convert(where: str, row: dict[str, Any]) -> Example:
        messages, chosen, rejected = _hh_row(row, where, system_prompt)
        return Example(messages, chosen, task, {"rejected": rejected}, f"hh:{where}")

    return collect(iter_rows(path, config, errors), convert, limit=limit, errors=errors)


def _llmbar_row(row: dict[str, Any], where: str) -> tuple[str, str, str]:
    prompt = require(row, "input", where)
    outs = require(row, "output_1", where), require(row, "output_2", where)
    label = require(row, "label", where, int)
    if label not in (1, 2) or isinstance(label, bool):
        raise DataError(f"{where}: field 'label' must be 1 or 2 (the better output), got {label!r}")
    return prompt, outs[label - 1], outs[2 - label]


def load_llmbar(path: str | Path, *, system_prompt: str | None = None, limit: int | None = None,
                task: str = "llmbar", config: str | None = None, errors: RowErrors | None = None) -> list[Example]:
    """LLMBar rows (`input`, `output_1`, `output_2`, `label`) as instruction prompts; reference = the
    better output, meta `rejected` = the other."""
    def convert(where: str, row: dict[str, Any]) -> Example:
        prompt, chosen, rejected = _llmbar_row(row, where)
        return Example(chat(prompt, system_prompt), chosen, task, {"rejected": rejected}, f"llmbar:{where}")

    return collect(iter_rows(path, config, errors), convert, limit=limit, errors=errors)


PAIR_FILES: tuple[str, ...] = ("*.json", "*.json.gz", "*.jsonl", "*.jsonl.gz")


def load_pairs(kind: str, path: str | Path, *, limit: int | None = None, task: str | None = None,
               errors: RowErrors | None = None) -> list[PreferencePair]:
    """Preference pairs (chosen vs rejected final reply) of an `hh` or `llmbar` source: a file, a
    directory of such files (`PAIR_FILES`, in name order) or a hub dataset.

    An HH row whose dialogues differ before the final reply, or whose final replies are equal, is no
    pair and is left out; a malformed row is raised, or skipped and counted by `errors`.
    """
    if kind not in ("hh", "llmbar"):
        raise ValueError(f"kind: expected 'hh' or 'llmbar' for preference pairs, got {kind!r}")
    p = Path(path)
    out: list[PreferencePair] = []
    if p.is_dir():
        files = sorted({f for pattern in PAIR_FILES for f in p.glob(pattern)})
        if not files:
            raise FileNotFoundError(f"{p}: no preference files ({', '.join(PAIR_FILES)})")
        for f in files:
            out += load_pairs(kind, f, limit=None if limit is None else limit - len(out), task=task, errors=errors)
        return out
    for where, row in iter_rows(path, errors=errors):
        if limit is not None and len(out) >= limit:
            break
        try:
            if kind == "hh":
                chosen_turns, rejected_turns = _hh_dialogues(row, where)
                if chosen_turns[:-1] != rejected_turns[:-1]:
                    continue  # a pair only teaches something when the context is shared
                messages = tuple(chosen_turns[:-1])
                chosen, rejected = chosen_turns[-1]["content"], rejected_turns[-1]["content"]
                if chosen == rejected:
                    continue
            else:
                prompt, chosen, rejected = _llmbar_row(row, where)
                messages = chat(prompt)
        except DataError as e:
            if errors is None:
                raise
            errors.handle(e)
            continue
        out.append(PreferencePair(messages, chosen, rejected, task or kind, f"{kind}:{where}"))
    return out
