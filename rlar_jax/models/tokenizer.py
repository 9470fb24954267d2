"""Tokenizer: a `tokenizers.Tokenizer` plus special token ids and the model's jinja chat template.

Loaded from an HF directory (`tokenizer.json`, `tokenizer_config.json`, `chat_template.jinja`,
`generation_config.json`) or rebuilt from GGUF metadata with transformers' GGUF converter. The chat
template is rendered the way transformers renders it (sandboxed jinja2, trim_blocks, lstrip_blocks).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import tokenizers
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Used when a checkpoint has no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@lru_cache(maxsize=16)
def _compile(template: str) -> jinja2.Template:
    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        # jinja's own tojson escapes HTML characters, which chat templates do not expect.
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template)


def _token_text(value: Any) -> str | None:
    """A special token as written in tokenizer_config.json: a string or an AddedToken dict."""
    if isinstance(value, dict):
        return value.get("content")
    return value


def _ids(value: Any) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]


class Tokenizer:
    """Text <-> token ids, chat-template rendering, and the model's special token ids."""

    def __init__(self, backend: tokenizers.Tokenizer, *, chat_template: str | None = None,
                 bos_id: int | None = None, eos_ids: Sequence[int] = (), pad_id: int | None = None,
                 unk_id: int | None = None):
        self.backend = backend
        self.chat_template = chat_template
        self.bos_id = bos_id
        self.eos_ids: tuple[int, ...] = tuple(dict.fromkeys(int(i) for i in eos_ids))
        if not self.eos_ids:
            raise ValueError("tokenizer has no end-of-sequence token id")
        # Padding is masked out everywhere, so any id works; eos is what HF uses when none is set.
        self.pad_id: int = int(pad_id) if pad_id is not None else self.eos_ids[0]
        self.unk_id = unk_id

    @property
    def vocab_size(self) -> int:
        """Number of token ids, added tokens included."""
        return self.backend.get_vocab_size(with_added_tokens=True)

    def token(self, token_id: int | None) -> str | None:
        """The text of one token id (None for None)."""
        return None if token_id is None else self.backend.id_to_token(int(token_id))

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Token ids of `text`; special tokens written in the text (e.g. `<|im_start|>`) stay whole."""
        return self.backend.encode(text, add_special_tokens=add_special_tokens).ids

    def encode_batch(self, texts: Iterable[str], add_special_tokens: bool = False) -> list[list[int]]:
        """`encode` over many texts (parallel in the Rust backend)."""
        return [e.ids for e in self.backend.encode_batch(list(texts), add_special_tokens=add_special_tokens)]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text of token ids."""
        return self.backend.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def apply_chat_template(self, messages: list[dict[str, Any]], add_generation_prompt: bool = True,
                            **kwargs: Any) -> str:
        """The prompt text for `messages` ([{"role": ..., "content": ...}, ...]) under the chat template."""
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or "role" not in m or "content" not in m:
                raise ValueError(f"messages[{i}] must be a dict with 'role' and 'content', got {m!r}")
        template = _compile(self.chat_template or CHATML_TEMPLATE)
        specials = {
            "bos_token": self.token(self.bos_id) or "",
            "eos_token": self.token(self.eos_ids[0]) or "",
            "pad_token": self.token(self.pad_id) or "",
            "unk_token": self.token(self.unk_id) or "",
        }
        return template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                               **{**specials, **kwargs})

    # ----- loading and saving -----

    @classmethod
    def from_hf_dir(cls, path: str | Path, config: dict[str, Any] | None = None) -> "Tokenizer":
        """Load `tokenizer.json` (+ `tokenizer_config.json`, `chat_template.jinja`, `generation_config.json`).

        `config` is the model's parsed config.json, whose eos/bos/pad ids are used when the tokenizer
        files do not name them.
        """
        path = Path(path)
        tok_file = path / "tokenizer.json"
        if not tok_file.is_file():
            raise FileNotFoundError(f"tokenizer file not found: {tok_file}")
        backend = tokenizers.Tokenizer.from_file(str(tok_file))
        tc = _read_json(path / "tokenizer_config.json")
        gen = _read_json(path / "generation_config.json")
        config = config or {}

        def tid(name: str) -> int | None:
            text = _token_text(tc.get(name))
            return backend.token_to_id(text) if text else None

        template = tc.get("chat_template")
        if isinstance(template, list):  # [{"name": "default", "template": ...}, ...]
            named = {t["name"]: t["template"] for t in template}
            template = named.get("default", next(iter(named.values()), None))
        if (path / "chat_template.jinja").is_file():
            template = (path / "chat_template.jinja").read_text()
        eos = [i for i in [tid("eos_token")] if i is not None]
        eos += _ids(gen.get("eos_token_id")) + _ids(config.get("eos_token_id"))
        bos = tid("bos_token")
        bos = bos if bos is not None else config.get("bos_token_id")
        pad = tid("pad_token")
        pad = pad if pad is not None else config.get("pad_token_id")
        return cls(backend, chat_template=template, bos_id=bos, eos_ids=eos, pad_id=pad, unk_id=tid("unk_token"))

    @classmethod
    def from_gguf(cls, path: str | Path, reader: Any = None) -> "Tokenizer":
        """Rebuild the tokenizer a GGUF file describes (`tokenizer.ggml.*`, `tokenizer.chat_template`).

        The metadata is read with the `gguf` package (`reader`: an open `gguf.GGUFReader` of the file, to
        parse it once) and converted by transformers' GGUF tokenizer builders, so torch is not needed.
        """
        import gguf
        from transformers.integrations.gguf.gguf_tokenizer_mapping import (
            GGUF_TOKENIZER_MAPPING, convert_gguf_tokenizer)

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        reader = reader if reader is not None else gguf.GGUFReader(path)
        meta = {k: f.contents() for k, f in reader.fields.items()
                if k.startswith("tokenizer.") or k == "general.architecture"}
        if "general.architecture" not in meta:
            raise ValueError(f"{path} has no general.architecture in its metadata")
        architecture = meta["general.architecture"]
        tok_dict, tok_config = (
            {name: meta[f"tokenizer.{key}"] for key, name in GGUF_TOKENIZER_MAPPING[group].items()
             if f"tokenizer.{key}" in meta}
            for group in ("tokenizer", "tokenizer_config"))
        backend, _ = convert_gguf_tokenizer(architecture, tok_dict)
        return cls(backend, chat_template=tok_config.get("chat_template"), bos_id=tok_dict.get("bos_token_id"),
                   eos_ids=_ids(tok_dict.get("eos_token_id")), pad_id=tok_dict.get("pad_token_id"),
                   unk_id=tok_dict.get("unk_token_id"))

    def save(self, out_dir: str | Path) -> None:
        """Write `tokenizer.json` and `tokenizer_config.json` (readable by transformers and `from_hf_dir`)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.backend.save(str(out / "tokenizer.json"))
        tc: dict[str, Any] = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": self.token(self.bos_id),
            "eos_token": self.token(self.eos_ids[0]),
            "pad_token": self.token(self.pad_id),
            "unk_token": self.token(self.unk_id),
            "add_bos_token": False,
            "clean_up_tokenization_spaces": False,
            "model_max_length": 1 << 30,
        }
        if self.chat_template:
            tc["chat_template"] = self.chat_template
        (out / "tokenizer_config.json").write_text(json.dumps(tc, indent=2, ensure_ascii=False))


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}
