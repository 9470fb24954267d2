"""The hand-written non-English routing queries: shape, coverage, slots, and no translation requests."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

import rlar_jax

DATA = Path(rlar_jax.__file__).parent / "rewards" / "routing_data" / "multilingual.json"
FAMILIES = {"math", "code", "dialogue", "instruction", "other"}
LANGUAGES = ("es", "fr", "de", "it", "pt", "nl", "ru", "zh", "ja", "ko", "ar", "pl")
MIN_TEMPLATES = 12
NUMBER_SLOTS = {"n1", "n2", "n3"}
# Stems of "translate" in the covered languages (and a few neighbours); none may appear in any template.
TRANSLATION_WORDS = (
    "translat",  # en
    "tradu",  # es traducir, fr traduire, pt traduzir, it tradurre
    "übersetz",  # de
    "vertaal",  # nl
    "перев",  # ru перевести, перевод
    "翻译",
    "翻譯",  # zh
    "翻訳",  # ja
    "번역",  # ko
    "ترجم",  # ar
    "przetłumacz",
    "tłumacz",  # pl
    "çevir",  # tr
    "अनुवाद",  # hi
    "dịch",  # vi
    "översätt",  # sv
)


@pytest.fixture(scope="module")
def data() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def _templates(data: dict):
    for family, langs in data["families"].items():
        for lang, templates in langs.items():
            for template in templates:
                yield family, lang, template


def test_structure_and_coverage(data):
    assert set(data) >= {"families", "slots"}
    assert set(data["families"]) == FAMILIES
    for family, langs in data["families"].items():
        missing = [lang for lang in LANGUAGES if lang not in langs]
        assert not missing, f"{family}: missing languages {missing}"
        for lang, templates in langs.items():
            assert isinstance(templates, list) and all(
                isinstance(t, str) and t.strip() for t in templates
            )
            if lang in LANGUAGES:
                assert len(templates) >= MIN_TEMPLATES, (
                    f"{family}/{lang}: only {len(templates)} templates"
                )
    # English only for the kinds the sampled English queries lack (probability, opinions and stories,
    # everyday facts, devops): English constraint requests come from the bundled ifgen data instead.
    assert "en" not in data["families"]["instruction"]
    for family in ("math", "dialogue", "code", "other"):
        assert len(data["families"][family].get("en", [])) >= 5, family


def test_templates_unique(data):
    seen: dict[str, tuple[str, str]] = {}
    for family, lang, template in _templates(data):
        key = " ".join(template.split()).lower()
        assert key not in seen, (
            f"duplicate template {template!r} in {family}/{lang} and {seen[key]}"
        )
        seen[key] = (family, lang)


def test_slots_known(data):
    slots = data["slots"]
    assert all(
        isinstance(v, list) and v and all(isinstance(x, str) for x in v)
        for v in slots.values()
    )
    allowed = NUMBER_SLOTS | set(slots)
    for family, lang, template in _templates(data):
        fields = [
            name
            for _, name, _, _ in string.Formatter().parse(template)
            if name is not None
        ]
        unknown = set(fields) - allowed
        assert not unknown, f"{family}/{lang}: unknown slots {unknown} in {template!r}"
        # and it fills cleanly
        template.format(n1=2, n2=3, n3=4, **{k: v[0] for k, v in slots.items()})


def test_no_translation_requests(data):
    for family, lang, template in _templates(data):
        low = template.lower()
        hits = [w for w in TRANSLATION_WORDS if w in low]
        assert not hits, f"{family}/{lang}: translation word {hits} in {template!r}"
