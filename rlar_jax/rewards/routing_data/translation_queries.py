"""Training queries of the "translation" family: WMT22 sources in request templates of many languages."""

from __future__ import annotations

import gzip
import random

from rlar_jax.datasets.registry import BUNDLED_DIR
from rlar_jax.rewards.routing_data.common import casual, fill


def _lines(name: str) -> list[str]:
    with gzip.open(BUNDLED_DIR / "wmt22" / name, "rt", encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip()]


# Target-language names as written in each request language.
_NAMES = {
    "en": {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
           "nl": "Dutch", "ru": "Russian", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "pl": "Polish",
           "tr": "Turkish", "sv": "Swedish", "cs": "Czech", "ar": "Arabic"},
    "de": {"en": "Englische", "fr": "Französische", "es": "Spanische", "it": "Italienische", "zh": "Chinesische"},
    "fr": {"en": "anglais", "de": "allemand", "es": "espagnol", "it": "italien", "zh": "chinois"},
    "es": {"en": "inglés", "de": "alemán", "fr": "francés", "it": "italiano", "pt": "portugués"},
    "it": {"en": "inglese", "de": "tedesco", "fr": "francese", "es": "spagnolo"},
    "pt": {"en": "inglês", "de": "alemão", "fr": "francês", "es": "espanhol"},
    "nl": {"en": "Engels", "de": "Duits", "fr": "Frans"},
    "ru": {"en": "английский", "de": "немецкий", "fr": "французский"},
    "zh": {"en": "英文", "de": "德语", "fr": "法语", "ja": "日语"},
    "ja": {"en": "英語", "zh": "中国語", "de": "ドイツ語"},
    "pl": {"en": "angielski", "de": "niemiecki"},
    "tr": {"en": "İngilizce", "de": "Almanca"},
    "ko": {"en": "영어", "ja": "일본어"},
}


_FRAMES = {
    "en": ("Translate the following {S}text into {T}:\n\n{X}", "Translate to {T}: {X}",
           "Please translate this into {T}.\n{X}", "Can you translate this sentence to {T}? \"{X}\"",
           "How would you say this in {T}? {X}", "Render this passage in {T}:\n{X}", "{X}\n\nIn {T}, please.",
           "Put this {S}sentence into {T}: {X}", "I need a {T} version of the following:\n{X}",
           "What is the {T} translation of \"{X}\"?", "Convert this text to {T} for me: {X}",
           "{T} translation please:\n{X}", "Translate from {S}to {T}, keeping the tone:\n{X}",
           "Could you help me say this in {T}? \"{X}\"", "{X}\n\nTranslate the above into {T}."),
    "de": ("Übersetze den folgenden Text ins {T}: {X}", "Bitte ins {T} übersetzen:\n{X}",
           "Kannst du das ins {T} übersetzen? {X}"),
    "fr": ("Traduis ce texte en {T} : {X}", "Traduisez en {T}, s'il vous plaît :\n{X}",
           "Peux-tu traduire cette phrase en {T} ? {X}"),
    "es": ("Traduce al {T}: {X}", "¿Puedes traducir esto al {T}? {X}", "Tradúceme este texto al {T}:\n{X}"),
    "it": ("Traduci in {T}: {X}", "Puoi tradurre questo testo in {T}?\n{X}"),
    "pt": ("Traduza para o {T}: {X}", "Pode traduzir isto para {T}? {X}"),
    "nl": ("Vertaal naar het {T}: {X}", "Kun je dit in het {T} vertalen? {X}"),
    "ru": ("Переведи на {T}: {X}", "Переведите этот текст на {T} язык:\n{X}"),
    "zh": ("请把下面的句子翻译成{T}：{X}", "翻译成{T}：{X}"),
    "ja": ("次の文を{T}に翻訳してください：{X}", "{T}に訳して：{X}"),
    "pl": ("Przetłumacz na {T}: {X}", "Przetłumacz ten tekst na język {T}:\n{X}"),
    "tr": ("{T} diline çevir: {X}", "Bu metni {T} diline çevirir misin? {X}"),
    "ko": ("다음 문장을 {T}로 번역해 주세요: {X}", "{T}로 번역해줘: {X}"),
}


_EXTRA_SOURCES = {  # short source sentences in languages the WMT files do not cover
    "fr": ("Le train part à huit heures demain matin.", "Nous avons passé un excellent week-end à la mer.",
           "Pouvez-vous m'indiquer le chemin de la gare ?", "Le musée est fermé le lundi."),
    "es": ("Mañana vamos a visitar a mis abuelos.", "El informe debe entregarse antes del viernes.",
           "¿Dónde puedo comprar billetes de autobús?", "La reunión se ha aplazado hasta la semana que viene."),
    "it": ("Il ristorante apre alle sette di sera.", "Ho dimenticato le chiavi in ufficio."),
    "ru": ("Я давно не видел своих друзей.", "Погода сегодня очень хорошая."),
    "ja": ("駅までの道を教えてください。", "明日は雨が降るそうです。"),
}


def _translation(rng: random.Random) -> list[str]:
    files = {"en": ("en-de.src.en", "en-zh.src.en"), "de": ("de-en.src.de", "en-de.ref.A.de"),
             "zh": ("en-zh.ref.A.zh",)}
    pools = {lang: [t for name in names for t in _lines(f"generaltest2022.{name}.gz")[1000:]]
             for lang, names in files.items()}
    pools.update({k: list(v) for k, v in _EXTRA_SOURCES.items()})
    weights = {"en": 6, "de": 4, "zh": 2, "fr": 1, "es": 1, "it": 1, "ru": 1, "ja": 1}
    src_langs = [k for k, w in weights.items() for _ in range(w)]
    request_langs = ["en"] * 13 + [k for k in _FRAMES if k != "en"]
    out = []
    for _ in range(640):
        src = rng.choice(src_langs)
        text = rng.choice(pools[src])
        if len(text) > 400:
            continue
        req = rng.choice(request_langs)
        targets = [t for t in _NAMES[req] if t != src]
        tgt = rng.choice(targets)
        s_name = _NAMES["en"].get(src, "")
        frame = rng.choice(_FRAMES[req])
        out.append(frame.format(T=_NAMES[req][tgt], X=text, S=f"{s_name} " if s_name and rng.random() < 0.5 else ""))
    words = ("good morning", "thank you very much", "where is the train station", "I love you", "happy birthday",
             "see you tomorrow", "how much does this cost", "nice to meet you")
    for _ in range(60):
        w, t = rng.choice(words), rng.choice(list(_NAMES["en"].values())[1:])
        out.append(rng.choice(("How do you say \"{w}\" in {t}?", "What's '{w}' in {t}?",
                               "{t} for \"{w}\"?", "how to say {w} in {t}")).format(w=w, t=t))
    return out + _translation_wide(rng)


_PHRASES = ("I'm lost", "the check, please", "where is the train station", "I don't eat meat", "do you speak "
            "English", "I would like a coffee", "can you help me", "how much is the ticket", "I'm sorry",
            "good luck", "cheers", "welcome home", "I miss you", "it's raining", "what time is it",
            "no ice, please", "I have a reservation", "call a doctor", "congratulations", "see you later",
            "bless you", "I can't eat gluten", "one more, please", "where can I buy a SIM card")


_WORDS = ("butterfly", "library", "cheese", "happiness", "umbrella", "window", "friendship", "bicycle",
          "strawberry", "thunderstorm", "airport", "grandmother")


_ALL_LANGS = ("French", "German", "Spanish", "Italian", "Portuguese", "Dutch", "Russian", "Japanese", "Chinese",
              "Korean", "Greek", "Turkish", "Polish", "Swedish", "Arabic", "Hindi", "Vietnamese", "Czech",
              "Finnish", "Danish", "Hebrew", "Indonesian", "Romanian", "Ukrainian")


def _translation_wide(rng: random.Random) -> list[str]:
    short = ("Say '{p}' in {L}.", "Give me the {L} for '{p}', please.", "What's the {L} for \"{p}\"?", "'{p}' in {L}?",
             "How would a {L} speaker say '{p}'?", "{L} for '{p}', please.", "What is \"{p}\" in {L}?",
             "Can you give me '{p}' in {L}?", "how do i say {p} in {L}", "need '{p}' in {L} asap",
             "What's the {L} word for {w}?", "How do you write {w} in {L}?", "{w} in {L}?",
             "Tell me how to say '{p}' in {L}.", "In {L}, how do you say \"{p}\"?")
    out = [casual(rng, rng.choice(short).format(p=rng.choice(_PHRASES), L=rng.choice(_ALL_LANGS),
                                                 w=rng.choice(_WORDS))) for _ in range(170)]
    pools = [t for name in ("en-de.src.en", "de-en.src.de") for t in _lines(f"generaltest2022.{name}.gz")[1000:]]
    pools = [t for t in pools if len(t) < 300]
    frames = ("Put this {S}paragraph into {T}: {X}", "Turn this into {T}: {X}", "Give me this in {T}: {X}",
              "{T}, please: {X}", "Rewrite this in {T}:\n{X}", "I need the {T} version of this: \"{X}\"",
              "Can you put this in {T} for me? {X}", "How would this read in {T}? {X}", "Into {T}:\n\n{X}",
              "My colleague only reads {T}. Could you convert this message? {X}", "{X}\n\n-> {T}",
              "Please make this {T}: {X}", "Help me write this in {T}: {X}", "What does this say in {T}? {X}")
    for _ in range(170):
        x = rng.choice(pools)
        src = "German " if x[:60].count(" der ") + x[:60].count(" die ") + x[:60].count(" und ") else "English "
        tgt = rng.choice([t for t in _ALL_LANGS if t + " " != src] + ["English"] * 3)
        out.append(rng.choice(frames).format(S=src if rng.random() < 0.5 else "", T=tgt, X=x))
    foreign = ("Wie sagt man '{p}' auf {L}?", "¿Cómo se dice '{p}' en {Ls}?", "Comment dit-on « {p} » en {Lf} ?",
               "Come si dice '{p}' in {Li}?", "Как сказать «{p}» по-английски?", "「{p}」は英語で何と言いますか？")
    names = {"L": ("Englisch", "Französisch", "Spanisch", "Italienisch"), "Ls": ("inglés", "francés", "alemán"),
             "Lf": ("anglais", "allemand", "espagnol"), "Li": ("inglese", "francese", "tedesco")}
    phrases = ("guten Appetit", "buenas noches", "bon voyage", "in bocca al lupo", "thank you", "good morning")
    out += fill(rng, foreign, 40, p=phrases, **names)
    return out
