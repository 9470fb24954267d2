"""Training queries of the "dialogue" family: HH-RLHF user turns, LLMBar inputs, advice and chit-chat."""

from __future__ import annotations

import gzip
import json
import random

from rlar_jax.datasets.examples import DataError
from rlar_jax.datasets.registry import bundled_file
from rlar_jax.rewards.constraints import extract_constraints
from rlar_jax.rewards.query_rules import _detect_family
from rlar_jax.rewards.routing_data.common import casual, read_jsonl
from rlar_jax.rewards.routing_data.instruction_queries import (
    _BASES,
    _INLINE_BASES,
    _TOPICS,
)

_ADVICE = ("I can't sleep well lately, what could help?", "My coworker keeps taking credit for my work. What "
           "should I do?", "hey, how's your day been?", "Tell me a joke about cats.", "What do you think about remote "
           "work?", "I'm nervous about a job interview tomorrow.", "Can you recommend a good fantasy novel?",
           "What should I cook tonight with chicken and rice?", "How do I get better at public speaking?",
           "I just got dumped and I feel awful.", "Explain how vaccines work in simple terms.", "Is it worth "
           "learning the piano as an adult?", "What should I not miss on a weekend in Porto?", "Help me plan a "
           "surprise party for my sister.", "Write an email to my landlord about a broken heater.",
           "Why is the sky blue?", "My dog keeps barking at night, any advice?", "What's the meaning of life?",
           "Summarize the pros and cons of electric cars.", "Can you help me write a toast for my brother's "
           "wedding?", "I'm bored. Any ideas?", "How should I prepare for a marathon?", "good night!",
           "What's your favourite movie and why?", "Give me feedback on my idea for a bakery business.",
           "How can I be more productive when working from home?", "Write a short poem about the sea.",
           "Describe what a perfect Sunday looks like to you.", "Explain the difference between weather and "
           "climate.", "Tell me about the history of jazz.", "What can I say to comfort a grieving friend?")


_ADVICE_FRAMES = ("Any tips for {t}?", "What do you think about {t}?", "Tell me something interesting about {t}.",
                  "I'd love to hear your thoughts on {t}.", "Can you help me with {t}? I'm a bit lost.",
                  "Write something nice about {t}.", "Explain {t} to me like I'm five.")


# Short questions with one factual answer belong to "other", even where a dialogue data set holds them.
_FACTUAL = ("who ", "when ", "where ", "which ", "what year", "how many", "what is the capital",
            "what's the name", "what is the name", "what do you call", "how far", "how tall", "how old")


def _factual(q: str) -> bool:
    return len(q) < 100 and q.lower().startswith(_FACTUAL)


def _dialogue(rng: random.Random) -> list[str]:
    from rlar_jax.datasets.constraints import REQUESTS, TOPICS
    from rlar_jax.datasets.text import parse_dialogue

    out = []
    for i, r in enumerate(read_jsonl(bundled_file("hh_rlhf_harmless", "test"))):
        if i < 1000:
            continue
        try:
            turns = [m["content"] for m in parse_dialogue(r["chosen"], f"hh:{i}", "chosen") if m["role"] == "user"]
        except DataError:
            continue
        out.append(turns[-1] if rng.random() < 0.7 else turns[0])
    out = rng.sample([q for q in dict.fromkeys(out) if 5 < len(q) < 600 and not _factual(q)], 330)
    bar = []
    for split in ("natural", "neighbor", "gptinst"):
        with gzip.open(bundled_file("llmbar", split), "rt", encoding="utf-8") as f:
            bar += [r["input"] for r in json.load(f)]
    # LLMBar inputs are open requests; drop those the rules see as another family, and short factual questions.
    bar = [q for q in dict.fromkeys(bar) if not extract_constraints(q) and len(q) < 1500
           and _detect_family(q, {}) is None and not _factual(q)
           and not any(w in q.lower() for w in ("translat", "code", "function", "python", "calculate", "solve"))]
    out += rng.sample(bar, min(len(bar), 150))
    out += [rng.choice(REQUESTS).format(t=rng.choice(TOPICS)) for _ in range(80)]
    out += list(_ADVICE)
    topics = ("gardening", "learning French", "moving abroad", "my first marathon", "climate change", "saving money",
              "raising a teenager", "starting a podcast", "buying a used car", "meditation", "dating apps")
    out += [rng.choice(_ADVICE_FRAMES).format(t=rng.choice(topics)) for _ in range(80)]
    out += _dialogue_more(rng) + _dialogue_wide(rng)
    return out


_FOREIGN_CHAT = (
    "Wie geht es dir heute?", "Was soll ich heute Abend kochen?", "Ich kann nicht schlafen, hast du einen Tipp?",
    "Erzähl mir einen Witz.", "Was hältst du von Homeoffice?", "Hilf mir, ein Geschenk für meine Mutter zu finden.",
    "¿Qué me recomiendas para dormir mejor?", "Estoy aburrido, ¿alguna idea?", "¿Cómo puedo ahorrar más dinero?",
    "Cuéntame algo interesante sobre los pulpos.", "¿Qué opinas de las redes sociales?",
    "Je m'ennuie, tu as une idée ?", "Comment puis-je être plus productif ?", "Raconte-moi une histoire drôle.",
    "Tu me conseilles quel livre pour les vacances ?", "Come posso imparare a cucinare?", "Ciao! Come stai?",
    "Estou triste hoje, pode me animar?", "Que filme você recomenda para o fim de semana?",
    "Kun je me helpen met een cadeau voor mijn vader?", "你好，最近怎么样？", "我应该怎么准备面试？",
    "Привет! Как дела?", "Что посмотреть вечером?", "おすすめの本はありますか？",
    "Buenas, ¿qué hago este finde en Madrid?", "Oye, ¿cómo le pido un aumento a mi jefe?", "Salut ! Tu as des "
    "idées de cadeau pour ma sœur ?", "Hallo, wie kann ich mich besser konzentrieren?", "Ciao, mi consigli una "
    "serie TV?", "Olá! Como posso dormir melhor?", "Hej, vad ska jag laga till middag?", "Cześć, jak się masz?",
    "Merhaba, bana bir fıkra anlatır mısın?", "안녕, 오늘 기분이 별로야.", "你觉得我应该学什么乐器？",
)


def _dialogue_more(rng: random.Random) -> list[str]:
    out = [rng.choice(_BASES).format(t=rng.choice(_TOPICS)) for _ in range(150)]  # the requests, no constraints
    out += list(_FOREIGN_CHAT)
    return out


_RECIPIENTS = ("my neighbour", "my team", "my grandmother", "a colleague who is leaving", "my child's teacher",
               "my landlord", "an old friend", "my new manager", "the volunteers at our event", "my host family")


_NOTES = ("a note thanking {r} for {x}", "a message to {r} apologising for {x}", "a birthday card for "
          "{r}", "a quick email to {r} about {x}", "a toast for {r}", "a friendly reminder to {r} about {x}",
          "a get-well-soon message for {r}", "a farewell message for {r}", "a congratulations note to {r} on {x}")


_FOR_X = ("helping me move", "the lovely dinner", "missing the meeting", "the late payment", "the new job",
          "looking after my cat", "the noise last night", "the wedding", "the surprise party", "the parking space")


_BRAINSTORM = ("names for a coffee shop", "gift ideas for a ten-year-old", "themes for an office party", "ideas "
               "for a science-fair project", "a name for a history podcast", "slogans for a charity run",
               "date-night ideas at home", "ways to reuse glass jars", "activities for a rainy day",
               "names for a grey kitten", "questions to ask at the end of an interview", "side-project ideas")


def _dialogue_wide(rng: random.Random) -> list[str]:
    out = [casual(rng, rng.choice(("Write {n}.", "Can you write {n}?", "Help me write {n}.", "Draft {n}.",
                                    "I need {n}.")).format(n=rng.choice(_NOTES).format(
        r=rng.choice(_RECIPIENTS), x=rng.choice(_FOR_X)))) for _ in range(110)]
    out += [casual(rng, rng.choice(("Let's brainstorm {b}.", "Brainstorm {b} with me.", "Any {b}?",
                                     "I need some {b}.", "Give me a few {b}.", "What are good {b}?")).format(
        b=rng.choice(_BRAINSTORM))) for _ in range(90)]
    choices = (("learn Spanish", "learn Italian"), ("study in the morning", "study at night"), ("lease a car",
               "buy a used one"), ("take the job offer", "stay where I am"), ("get a cat", "get a dog"),
               ("pay off debt", "start investing"), ("go to university", "start working"), ("fly", "take the "
               "train"), ("use a standing desk", "keep my chair"), ("move to the city", "stay in my hometown"))
    out += [casual(rng, rng.choice(("Is it better to {a} or {b}?", "Should I {a} or {b}?", "{A} or {b}: what "
                                     "would you do?", "Do you think it's smarter to {a} or {b}?")).format(
        a=a, b=b, A=a[0].upper() + a[1:])) for a, b in (rng.choice(choices) for _ in range(40))]
    from rlar_jax.datasets.constraints import TOPICS

    out += [casual(rng, rng.choice(_INLINE_BASES).format(t=rng.choice(TOPICS)) + rng.choice((".", "?", "!", "")))
            for _ in range(80)]
    return out
