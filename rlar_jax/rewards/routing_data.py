"""Labelled queries that train the task-family router (`rlar_jax.rewards.routing`).

Every family gets queries from the bundled data sets where one exists, in the shape the loaders give
them to the planner, plus templated queries that widen the phrasing:
  math         GSM8K train, generated arithmetic (arith train), MATH-500 (first 200 problems); templated
               short questions (angles, rates, percentages, equations, areas, probability, calculus), proofs,
               counting problems, casual and non-English word problems
  code         MBPP few-shot and train task ids (1-10, 511-974); templated requests in 14 languages; web,
               HTTP, framework, front-end, devops, SQL, regex and language-concept questions
  translation  WMT22 sources and references (lines 1000 onwards; the bench reads from the start) wrapped
               in request templates written in English and in 12 other languages, many target languages;
               short requests that name the language without "translate" ("Say 'X' in Greek")
  dialogue     HH-RLHF harmless last human turns (pairs 1000 onwards), LLMBar inputs without format
               constraints, the instruction requests of `ifgen` without their constraints, chit-chat in
               several languages, notes and messages, brainstorming, "should I X or Y" questions
  instruction  `ifgen` train prompts; open requests with constraints stated in words, phrased freely
  other        factual short-answer questions (fact tables, science values, places, quoted titles, other
               languages) and multiple-choice questions
Some templates are written casually (`_casual`: lower case, no final punctuation) as people type them.
`training_queries(seed)` is deterministic in `seed`; nothing here is read from the routing evaluation set.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Iterator

from rlar_jax.datasets.examples import DataError
from rlar_jax.datasets.problems import CODE_INSTRUCTION, GSM8K_INSTRUCTION, MATH_INSTRUCTION
from rlar_jax.datasets.registry import BUNDLED_DIR, bundled_file
from rlar_jax.rewards.constraints import extract_constraints
from rlar_jax.rewards.query_rules import _detect_family

PER_FAMILY = 1000  # queries per family (sampled down from the pools below)


def _jsonl(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _lines(name: str) -> list[str]:
    with gzip.open(BUNDLED_DIR / "wmt22" / name, "rt", encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip()]


# ------------------------------------------------------------------------------------------------ math

_POLYGONS = ("triangle", "quadrilateral", "pentagon", "hexagon", "heptagon", "octagon", "nonagon", "decagon")


def _math(rng: random.Random) -> list[str]:
    out = [r["question"] + (f"\n\n{GSM8K_INSTRUCTION}" if rng.random() < 0.5 else "")
           for r in rng.sample(list(_jsonl(bundled_file("gsm8k", "train"))), 300)]
    out += [r["question"] for r in rng.sample(list(_jsonl(bundled_file("arith", "train"))), 60)]
    out += [r["problem"] + (f"\n\n{MATH_INSTRUCTION}" if rng.random() < 0.5 else "")
            for r in list(_jsonl(bundled_file("math500", "test")))[:200]]
    n = lambda a, b: rng.randint(a, b)  # noqa: E731
    templates = [
        lambda: f"What is {n(5, 95)}% of {n(20, 900)}?",
        lambda: f"Solve for x: {n(2, 9)}x + {n(1, 30)} = {n(31, 99)}",
        lambda: f"Find x if {n(2, 12)}x - {n(1, 20)} = {n(2, 40)}.",
        lambda: f"What is the measure of each interior angle of a regular {rng.choice(_POLYGONS)}?",
        lambda: f"How many diagonals does a {rng.choice(_POLYGONS)} have?",
        lambda: f"A cyclist rides {n(10, 90)} miles in {n(2, 6)} hours. How fast is she going on average?",
        lambda: f"A train leaves at {n(1, 11)}:00 and travels {n(100, 600)} km at {n(60, 150)} km/h. "
                "When does it arrive?",
        lambda: f"Calculate the area of a circle with a radius of {n(2, 20)} cm.",
        lambda: f"What is the perimeter of a rectangle that is {n(3, 30)} m long and {n(2, 20)} m wide?",
        lambda: f"What's {n(12, 999)} times {n(3, 99)}?",
        lambda: f"Compute {n(100, 9999)} divided by {n(2, 40)}, rounded to two decimals.",
        lambda: f"If I roll two dice, what is the probability that the sum is {n(2, 12)}?",
        lambda: f"What is the derivative of x^{n(2, 7)} + {n(2, 9)}x?",
        lambda: f"Evaluate the integral of {n(2, 9)}x^{n(1, 4)} from 0 to {n(1, 5)}.",
        lambda: f"What is the greatest common divisor of {n(12, 200)} and {n(12, 200)}?",
        lambda: f"Find the least common multiple of {n(3, 30)} and {n(3, 30)}.",
        lambda: f"A shirt costs ${n(15, 80)} and is on sale for {n(10, 60)}% off. What is the sale price?",
        lambda: f"If {n(3, 12)} workers build a wall in {n(2, 10)} days, how long would {n(2, 20)} workers take?",
        lambda: f"What is the sum of the first {n(10, 100)} positive integers?",
        lambda: f"Simplify ({n(2, 9)}x + {n(1, 9)})({n(2, 9)}x - {n(1, 9)}).",
        lambda: f"Convert {n(2, 90)} miles per hour into metres per second.",
        lambda: f"How many seconds are there in {n(2, 30)} days?",
        lambda: f"What is {n(2, 9)}/{n(2, 9)} + {n(2, 9)}/{n(2, 9)} as a fraction in lowest terms?",
        lambda: f"The angles of a triangle are in the ratio {n(1, 5)}:{n(1, 5)}:{n(1, 5)}. Find the largest angle.",
        lambda: f"A recipe needs {n(2, 5)} cups of flour for {n(6, 24)} cookies. "
                f"How much flour for {n(30, 90)} cookies?",
        lambda: f"I invest ${n(500, 9000)} at {n(2, 9)}% compound interest per year. "
                f"How much do I have after {n(2, 10)} years?",
        lambda: f"What is the square root of {rng.choice([n(2, 40) ** 2, n(2, 999)])}?",
        lambda: f"Is {n(100, 999)} divisible by {n(3, 13)}? Show the remainder.",
        lambda: f"quick one: {n(10, 99)} + {n(10, 99)} * {n(2, 9)} = ?",
        lambda: f"How long does it take to drive {n(50, 500)} km at {n(40, 120)} km/h?",
        lambda: f"What is the volume of a cube whose edges are {n(2, 15)} inches long?",
        lambda: f"A ladder {n(5, 13)} m long leans against a wall with its foot {n(1, 4)} m from the wall. "
                "How high does it reach?",
        lambda: f"Find the mean and median of {', '.join(str(n(1, 50)) for _ in range(6))}.",
        lambda: f"What is log base {n(2, 5)} of {n(8, 625)}?",
        lambda: f"How many ways can {n(3, 8)} people sit in a row?",
        lambda: f"Prove that the sum of two odd numbers is even.",
        lambda: f"Factor x^2 + {n(2, 15)}x + {n(1, 50)}.",
        lambda: f"What is the slope of the line through ({n(-9, 9)}, {n(-9, 9)}) and ({n(-9, 9)}, {n(-9, 9)})?",
    ]
    out += [rng.choice(templates)() for _ in range(260)]
    out += _math_more(rng) + _math_wide(rng)
    return out


# ------------------------------------------------------------------------------------------------ code

_CODE_LANGS = ("Python", "JavaScript", "TypeScript", "Java", "C++", "Rust", "Go", "C#", "Ruby", "PHP", "Kotlin",
               "Swift", "C", "Haskell")
_CODE_TASKS = (
    "reverse a string", "check whether a number is prime", "merge two sorted lists", "remove duplicates from an "
    "array", "count how often each word appears in a text", "flatten a nested list", "parse a CSV file into "
    "dictionaries", "find the longest common prefix of some strings", "implement binary search", "compute the "
    "n-th Fibonacci number", "validate an email address", "read a JSON file and print one field", "sort a "
    "dictionary by its values", "detect a cycle in a linked list", "rotate a matrix by 90 degrees", "check if two "
    "strings are anagrams", "convert a Roman numeral to an integer", "implement an LRU cache", "debounce a "
    "function", "download a web page and count its links", "find the k largest numbers in a list", "transpose a "
    "matrix", "generate all permutations of a list", "check balanced parentheses", "implement a stack with a "
    "max operation", "compress a string with run-length encoding", "find the median of two sorted arrays",
    "walk a directory tree and list large files", "serialize a binary tree", "compute the edit distance of "
    "two words",
)
_CODE_FRAMES = (
    "Write a {lang} function to {task}.", "How do I {task} in {lang}?", "Implement code in {lang} that can {task}.",
    "Can you show me {lang} code to {task}?", "I need a {lang} program that will {task}.",
    "Give me a {lang} snippet to {task}, with comments.", "What's the most efficient way to {task} in {lang}?",
    "Write unit tests in {lang} for a function that should {task}.", "In {lang}, write a class that can {task}.",
    "my {lang} code to {task} is too slow, how can I optimise it?",
)
_SNIPPETS = (
    "for i in range(len(xs)):\n    if xs[i] = 0:\n        print(i)",
    "function add(a, b) {\n  return a + b\n}\nconsole.log(add(1))",
    "SELECT name, COUNT(*) FROM orders GROUP BY customer_id;",
    "int main() {\n    int *p;\n    *p = 5;\n    return 0;\n}",
    "let v = vec![1, 2, 3];\nlet w = v;\nprintln!(\"{:?}\", v);",
    "def avg(xs):\n    return sum(xs) / len(xs)\n\nprint(avg([]))",
)
_SNIPPET_FRAMES = ("Why does this code fail?\n```\n{s}\n```", "Fix the bug in this snippet:\n{s}",
                   "What does this code do?\n\n{s}", "Refactor the following code:\n```\n{s}\n```",
                   "Can you explain the error I get here?\n{s}")
_SQL = ("find the second highest salary in an employees table", "list customers with no orders",
        "count orders per month in 2023", "delete duplicate rows from a users table",
        "join the orders and products tables and sum revenue per product")


def _code(rng: random.Random) -> list[str]:
    out = []
    for r in _jsonl(bundled_file("mbpp")):
        if not (1 <= r["task_id"] <= 10 or 511 <= r["task_id"] <= 974):
            continue
        text = r["text"]
        if rng.random() < 0.5:
            text = f"{text}\nYour code should pass this test:\n{r['test_list'][0]}\n\n{CODE_INSTRUCTION}"
        out.append(text)
    out = rng.sample(out, 380)
    for _ in range(240):
        out.append(rng.choice(_CODE_FRAMES).format(lang=rng.choice(_CODE_LANGS), task=rng.choice(_CODE_TASKS)))
    for _ in range(40):
        out.append(rng.choice(_SNIPPET_FRAMES).format(s=rng.choice(_SNIPPETS)))
    for _ in range(30):
        out.append(rng.choice(("Write a SQL query to {t}.", "SQL: how do I {t}?", "Give me the SQL to {t}."))
                   .format(t=rng.choice(_SQL)))
    out += ["Write a regular expression that matches {}.".format(x) for x in (
        "a US phone number", "dates like 2024-01-31", "hex colour codes", "an IPv4 address")]
    out += ["Write a bash one-liner that {}.".format(x) for x in (
        "renames every .jpeg file to .jpg", "counts the lines of all Python files", "kills a process by port")]
    out += _code_more(rng) + _code_tools(rng) + _code_wide(rng)
    return out


# ----------------------------------------------------------------------------------------- translation

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
    words = ("good morning", "thank you very much", "where is the bathroom", "I love you", "happy birthday",
             "see you tomorrow", "how much does this cost", "nice to meet you")
    for _ in range(60):
        w, t = rng.choice(words), rng.choice(list(_NAMES["en"].values())[1:])
        out.append(rng.choice(("How do you say \"{w}\" in {t}?", "What's '{w}' in {t}?",
                               "{t} for \"{w}\"?", "how to say {w} in {t}")).format(w=w, t=t))
    return out + _translation_wide(rng)


# -------------------------------------------------------------------------------------------- dialogue

_ADVICE = ("I can't sleep well lately, what could help?", "My coworker keeps taking credit for my work. What "
           "should I do?", "hey, how's it going?", "Tell me a joke about cats.", "What do you think about remote "
           "work?", "I'm nervous about a job interview tomorrow.", "Can you recommend a good fantasy novel?",
           "What should I cook tonight with chicken and rice?", "How do I get better at public speaking?",
           "I just got dumped and I feel awful.", "Explain how vaccines work in simple terms.", "Is it worth "
           "learning the piano as an adult?", "What are some fun things to do in Lisbon?", "Help me plan a "
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


def _dialogue(rng: random.Random) -> list[str]:
    from rlar_jax.datasets.constraints import REQUESTS, TOPICS
    from rlar_jax.datasets.text import parse_dialogue

    out = []
    for i, r in enumerate(_jsonl(bundled_file("hh_rlhf_harmless", "test"))):
        if i < 1000:
            continue
        try:
            turns = [m["content"] for m in parse_dialogue(r["chosen"], f"hh:{i}", "chosen") if m["role"] == "user"]
        except DataError:
            continue
        out.append(turns[-1] if rng.random() < 0.7 else turns[0])
    out = rng.sample([q for q in dict.fromkeys(out) if 5 < len(q) < 600], 330)
    bar = []
    for split in ("natural", "neighbor", "gptinst"):
        with gzip.open(bundled_file("llmbar", split), "rt", encoding="utf-8") as f:
            bar += [r["input"] for r in json.load(f)]
    # LLMBar inputs are open requests; drop those the rules see as another family, and short factual questions.
    factual = ("who ", "when ", "where ", "which ", "what year", "how many", "what is the capital")
    bar = [q for q in dict.fromkeys(bar) if not extract_constraints(q) and len(q) < 1500
           and _detect_family(q, {}) is None and not (len(q) < 100 and q.lower().startswith(factual))
           and not any(w in q.lower() for w in ("translat", "code", "function", "python", "calculate", "solve"))]
    out += rng.sample(bar, min(len(bar), 150))
    out += [rng.choice(REQUESTS).format(t=rng.choice(TOPICS)) for _ in range(80)]
    out += list(_ADVICE)
    topics = ("gardening", "learning French", "moving abroad", "my first marathon", "climate change", "saving money",
              "raising a teenager", "starting a podcast", "buying a used car", "meditation", "dating apps")
    out += [rng.choice(_ADVICE_FRAMES).format(t=rng.choice(topics)) for _ in range(80)]
    out += _dialogue_more(rng) + _dialogue_wide(rng)
    return out


# ----------------------------------------------------------------------------------------- instruction

_BASES = ("Write a haiku about {t}.", "Draft a cover letter for a job at {t}.", "Write a limerick about {t}.",
          "Create a packing list for {t}.", "Write a tweet announcing {t}.", "Describe {t}.",
          "Write a product review of {t}.", "Explain {t} to a child.", "Write a rap song about {t}.",
          "Write a riddle about {t}.", "Give me a recipe inspired by {t}.", "Write an essay about {t}.",
          "Write a startup pitch for {t}.", "Compose an email inviting colleagues to {t}.",
          "Write a song for kids about {t}.", "Write a news headline and summary about {t}.")
_TOPICS = ("a bakery in Paris", "the history of the internet", "a robot learning to paint", "a weekend in Rome",
           "time management", "a new smartphone", "the water cycle", "volunteering at an animal shelter",
           "a company picnic", "quantum computers", "a mountain hike", "the benefits of reading",
           "a jazz festival", "a dragon who loves tea", "space tourism", "a lost wallet")
_CONSTRAINTS = (
    "Do not use the letter '{l}' anywhere in your answer.", "Avoid using the letter {l} at all.",
    "Your response must not contain the letter \"{l}\".", "The first word of your response must be '{w}'.",
    "Begin your reply with the word {w}.", "Make sure the first word of the second paragraph is \"{w}\".",
    "Include a title wrapped in double angular brackets, i.e. <<title>>.", "Put the title in double angle "
    "brackets like <<this>>.", "Your response must have {n} sections; mark each one with SECTION X.",
    "Your entire response should be in {lang}; no other language is allowed.", "Respond only in {lang}.",
    "Keep it under {k} words.", "Use fewer than {k} words.", "It should be at least {m} words long.",
    "Use exactly {n} bullet points.", "Write it in all lowercase letters.", "Use only capital letters.",
    "Don't use any commas.", "Wrap the whole answer in JSON.", "Output valid JSON with the keys 'title' and "
    "'body'.", "First repeat the request word for word without change, then give your answer.",
    "Finish your answer with the exact phrase \"{p}\".", "End with a postscript starting with P.P.S.",
    "Answer with one of the following options: 'My answer is yes.', 'My answer is no.', 'My answer is maybe.'",
    "Highlight at least {n} sections with markdown, i.e. *highlighted section*.",
    "The word '{w}' should appear at least {n} times.", "Separate the paragraphs with the markdown divider ***.",
    "Write exactly {n} sentences.", "Use no more than {n} words in all capital letters.",
    "Wrap your entire response in double quotation marks.", "Give two different responses separated by six "
    "asterisk symbols ******.", "Do not include the keywords '{w}' or '{w2}'.", "Make it rhyme and keep each line "
    "under {n} words.", "Use at least {n} placeholders in square brackets, such as [name].",
    "Your answer must contain exactly {n} paragraphs separated by two new lines.",
    "End your response with a question.", "Mention the word '{w}' in every sentence.",
)


def _instruction(rng: random.Random) -> list[str]:
    out = [r["prompt"] for r in rng.sample(list(_jsonl(bundled_file("ifgen", "train"))), 330)]
    words = ("Plants", "Today", "Imagine", "Honestly", "Listen", "Sunshine", "Firstly", "Remember")
    langs = ("French", "German", "Spanish", "Italian", "Hindi", "Japanese")
    phrases = ("Any other questions?", "Is there anything else I can help with?", "Peace out.", "That's all folks.")
    for _ in range(370):
        parts = [rng.choice(_BASES).format(t=rng.choice(_TOPICS))]
        for c in rng.sample(_CONSTRAINTS, rng.choice((1, 1, 2, 3))):
            parts.append(c.format(l=rng.choice("aeiotsnr"), w=rng.choice(words), w2=rng.choice(words),
                                  n=rng.randint(2, 5), k=rng.choice((30, 50, 80, 100)),
                                  m=rng.choice((150, 200, 300, 500)), lang=rng.choice(langs), p=rng.choice(phrases)))
        out.append(" ".join(parts))
    out += _instruction_more(rng) + _instruction_inline(rng) + _instruction_wide(rng)
    return out


# ----------------------------------------------------------------------------------------------- other

_CAPITALS = ("France", "Japan", "Kenya", "Canada", "Peru", "Norway", "Egypt", "Vietnam", "Chile", "Poland",
             "Morocco", "Thailand", "Argentina", "Portugal", "Ireland", "Ghana", "Hungary", "Nepal", "Cuba",
             "Finland", "Indonesia", "Colombia", "Greece", "Iceland", "Mongolia", "Ukraine", "Senegal", "Austria")
_BOOKS = ("Pride and Prejudice", "War and Peace", "1984", "Don Quixote", "The Odyssey", "Moby-Dick", "Hamlet",
          "One Hundred Years of Solitude", "The Great Gatsby", "Crime and Punishment", "Frankenstein", "Ulysses",
          "The Divine Comedy", "Les Misérables", "Beloved", "The Trial")
_ELEMENTS = ("gold", "iron", "sodium", "potassium", "silver", "tin", "lead", "mercury", "copper", "helium",
             "neon", "calcium", "zinc", "uranium", "tungsten", "oxygen")
_FACT_FRAMES = (
    "What is the capital of {c}?", "Which city is the capital of {c}?", "capital of {c}?",
    "What currency is used in {c}?", "What is the official language of {c}?", "On which continent is {c}?",
    "Who wrote {b}?", "Who is the author of {b}?", "In which century was {b} written?",
    "What is the chemical symbol for {e}?", "What is the atomic number of {e}?", "Is {e} a metal?",
    "Who was the first president of {c}?", "What is the population of {c}, roughly?",
    "What is the tallest mountain in {c}?", "Which ocean borders {c}?",
)
_TRIVIA = (
    "Who painted the Mona Lisa?", "How many bones are in the adult human body?", "What year did World War II "
    "end?", "Which planet is known as the Red Planet?", "What is the largest mammal?", "Who discovered "
    "penicillin?", "What is the boiling point of water in Fahrenheit?", "How many players are on a soccer team?",
    "Which element has the symbol K?", "What is the longest river in Africa?", "Who composed the Four "
    "Seasons?", "When did the Berlin Wall fall?", "What is the hardest natural substance?", "How many "
    "continents are there?", "Who was the first person to walk on the Moon?", "What is the speed of light in a "
    "vacuum?", "Which country has the most people?", "What language is spoken in Brazil?", "How many strings "
    "does a violin have?", "Who invented the telephone?", "What is the smallest prime number?",
    "What is the freezing point of water in Kelvin?", "Which organ produces insulin?", "What does DNA stand "
    "for?", "Who developed the theory of general relativity?", "In what year did the Titanic sink?",
    "What is the main gas in the Earth's atmosphere?", "How many hearts does an octopus have?",
    "What is the currency of the United Kingdom?", "Which is the largest desert in the world?",
)


def _other(rng: random.Random) -> list[str]:
    out = [rng.choice(_FACT_FRAMES).format(c=rng.choice(_CAPITALS), b=rng.choice(_BOOKS), e=rng.choice(_ELEMENTS))
           for _ in range(300)]
    out += list(_TRIVIA)
    stems = [("What is the capital of {}?", _CAPITALS, ("Lyon", "Osaka", "Mombasa", "Toronto", "Cusco", "Bergen")),
             ("Who wrote {}?", _BOOKS, ("Charles Dickens", "Leo Tolstoy", "Mark Twain", "Jane Austen", "Homer")),
             ("Which is the chemical symbol for {}?", _ELEMENTS, ("Au", "Fe", "Na", "K", "Ag", "Sn", "Pb"))]
    for _ in range(260):
        stem, pool, opts = rng.choice(stems)
        options = rng.sample(opts, 4)
        q = stem.format(rng.choice(pool))
        style = rng.randrange(4)
        if style == 0:
            body = "\n".join(f"{L}. {o}" for L, o in zip("ABCD", options))
        elif style == 1:
            body = " ".join(f"({L}) {o}" for L, o in zip("ABCD", options))
        elif style == 2:
            body = "\n".join(f"{L}) {o}" for L, o in zip("abcd", options))
        else:
            body = "Options: " + ", ".join(options[:-1]) + " or " + options[-1] + "."
        tail = rng.choice(("", "\nAnswer with the letter only.", "\nPick one.", " Choose the correct answer."))
        out.append(f"{q}\n{body}{tail}")
    out += [f"True or false: {s}" for s in ("the Sun is a star.", "bats are birds.", "Tokyo is in China.",
                                             "water boils at 100 degrees Celsius at sea level.")]
    out += _other_more(rng) + _other_wide(rng)
    return out


# ---------------------------------------------------------------- wider phrasing: tools, other languages


def _fill(rng: random.Random, frames: tuple[str, ...], n: int, **pools: tuple[str, ...]) -> list[str]:
    """`n` frames filled with random picks of the named pools (each frame uses the names it mentions)."""
    return [rng.choice(frames).format(**{k: rng.choice(v) for k, v in pools.items()}) for _ in range(n)]


_FUNCS = ("sin(x)", "x^2 e^x", "ln(x)/x", "cos(2x)", "e^(3x)", "x^3 - 2x", "sqrt(x^2 + 1)", "tan(x)", "x ln(x)",
          "1/(1 + x^2)")


def _math_more(rng: random.Random) -> list[str]:
    n = lambda a, b: str(rng.randint(a, b))  # noqa: E731
    out = _fill(rng, ("Find the derivative of {f}.", "Differentiate {f} with respect to x.", "Integrate {f} dx.",
                      "What is the antiderivative of {f}?", "d/dx of {f}?"), 40, f=_FUNCS)
    for _ in range(90):
        a, b, c, d = n(1, 9), n(1, 9), n(1, 9), n(1, 9)
        out.append(rng.choice((
            f"Convert {n(-20, 110)} degrees Celsius to Fahrenheit.", f"What is {n(0, 212)}°F in Celsius?",
            f"How many ounces are in {n(2, 20)} pounds?", f"How many centimetres is {n(2, 90)} inches?",
            f"My car uses {n(4, 12)} litres per 100 km. How much fuel do I need for {n(50, 900)} km?",
            f"I earn ${n(10, 60)} an hour. How much do I make in a {n(10, 50)}-hour week?",
            f"Find the determinant of [[{a}, {b}], [{c}, {d}]].", f"Multiply the matrices [[{a}, {b}], [{c}, {d}]] "
            f"and [[{d}, {c}], [{b}, {a}]].", f"What are the eigenvalues of [[{a}, 0], [0, {d}]]?",
            f"A phone plan costs ${n(10, 40)} a month plus ${n(1, 5)} per GB. What do {n(2, 20)} GB cost?",
            f"What is {n(2, 9)} to the power of {n(2, 6)}?", f"Round {n(100, 999)}.{n(100, 999)} to the nearest ten.",
            f"How many kilometres per litre is {n(20, 60)} miles per gallon?",
            f"A map scale is 1:{n(10, 100)}000. How far apart are two towns that are {n(2, 20)} cm apart on the map?",
        )))
    for _ in range(70):
        a, b = n(2, 99), n(2, 99)
        out.append(rng.choice((
            f"Wie viel ist {a} plus {b}?", f"Was ist {n(5, 50)} Prozent von {n(100, 900)}?",
            f"Berechne die Fläche eines Rechtecks mit den Seiten {a} cm und {b} cm.", f"Löse die Gleichung {n(2, 9)}x + {a} = {b}.",
            f"¿Cuánto es {a} por {b}?", f"Calcula el área de un círculo de radio {n(2, 20)} cm.",
            f"Si un coche recorre {n(100, 500)} km en {n(2, 6)} horas, ¿cuál es su velocidad media?",
            f"Combien font {a} fois {b} ?", f"Résous l'équation {n(2, 9)}x - {a} = {b}.",
            f"Quanto fa {a} diviso {b}?", f"Quanto é {a} mais {b}?", f"{a}加{b}等于多少？",
            f"Hoeveel is {a} keer {b}?", f"Сколько будет {a} умножить на {b}?",
        )))
    return out


_DS = ("min-heap", "trie", "hash map with separate chaining", "circular buffer", "union-find structure",
       "doubly linked list", "priority queue", "binary search tree with delete", "bloom filter", "deque")
_DIFFS = ("== and === in JavaScript", "a list and a tuple in Python", "an interface and an abstract class in Java",
          "a pointer and a reference in C++", "WHERE and HAVING in SQL", "git merge and git rebase",
          "flexbox and grid in CSS", "margin and padding in CSS", "async and defer on script tags",
          "processes and threads", "a struct and a class in C#", "String and &str in Rust")
_TOOLS = ("squash my last three commits in git", "delete a remote branch in git", "resolve a merge conflict",
          "make a sticky header with CSS", "vertically align text in a div", "make images responsive in CSS",
          "find files larger than 1 GB from the command line", "replace a word in many files with sed",
          "see which process is using port 8080", "set up nginx as a reverse proxy for a Node app",
          "group a pandas DataFrame by two columns and sum", "merge two DataFrames on a key column",
          "fill missing values with the column mean in pandas", "reshape a numpy array", "install a Python package "
          "offline", "set an environment variable in a Dockerfile", "schedule a cron job every 15 minutes",
          "call a REST API with the requests library", "parse command-line arguments in Python")
_BUILDS = ("a Dockerfile for a Flask app", "a docker-compose file with Postgres and Redis", "a GitHub Actions "
           "workflow that runs the tests on every push", "a Kubernetes deployment for a web service", "a Makefile "
           "for a small C project", "an HTML page with a navigation bar", "a contact form in HTML and CSS",
           "a React hook that fetches data", "a Vue component for a todo list", "a Django model for blog posts",
           "a FastAPI endpoint that uploads a file", "an Express middleware that logs requests",
           "a Spring Boot controller for users", "a TypeScript type for an API response", "a Go struct for a "
           "config file", "a protobuf message for an order", "an SQL schema for a library")
_ERRORS = ("TypeError: 'NoneType' object is not subscriptable", "NullPointerException", "segmentation fault",
           "undefined is not a function", "cannot borrow `x` as mutable", "ModuleNotFoundError: No module named "
           "'requests'", "CORS policy: No 'Access-Control-Allow-Origin' header", "fatal: not a git repository")


def _code_more(rng: random.Random) -> list[str]:
    out = _fill(rng, ("Implement a {ds}.", "Code a {ds} in {lang}.", "How would you implement a {ds}?"), 25,
                ds=_DS, lang=_CODE_LANGS)
    out += _fill(rng, ("What's the difference between {d}?", "Explain {d}, with a code example.",
                       "When should I use each of {d}?"), 30, d=_DIFFS)
    out += _fill(rng, ("Write {b}.", "Generate {b}.", "Can you give me {b}?", "I need {b}."), 50, b=_BUILDS)
    out += _fill(rng, ("I get \"{e}\" when I run my code. What does it mean?", "How do I fix {e}?",
                       "Why am I getting {e} in {lang}?"), 30, e=_ERRORS, lang=_CODE_LANGS)
    tasks = {"de": ("Schreibe eine {lang}-Funktion, die eine Liste sortiert.", "Wie lese ich in {lang} eine Datei ein?",
                    "Schreib ein {lang}-Programm, das Primzahlen bis 100 ausgibt."),
             "es": ("Escribe una función en {lang} que invierta una cadena.", "¿Cómo leo un archivo CSV en {lang}?",
                    "Haz un programa en {lang} que cuente las palabras de un texto."),
             "fr": ("Écris une fonction {lang} qui calcule la factorielle.", "Comment trier un dictionnaire en {lang} ?"),
             "pt": ("Escreva uma função em {lang} que verifique se um número é primo.",),
             "zh": ("用{lang}写一个函数，判断字符串是不是回文。", "怎么用{lang}读取JSON文件？")}
    out += [rng.choice([f for fs in tasks.values() for f in fs]).format(lang=rng.choice(_CODE_LANGS)) for _ in range(40)]
    return out


def _other_more(rng: random.Random) -> list[str]:
    events = ("the Berlin Wall come down", "the first Moon landing happen", "the Eiffel Tower open", "the Titanic "
              "sink", "World War I start", "the printing press appear in Europe", "Columbus reach the Americas",
              "the Roman Empire fall", "India become independent", "the euro come into use", "the Wright brothers fly")
    acronyms = ("UNESCO", "NATO", "HTML", "FIFA", "GDP", "LASER", "RADAR", "UNICEF", "CPU", "OPEC", "SCUBA", "PDF")
    landmarks = ("the Taj Mahal", "Machu Picchu", "the Acropolis", "Angkor Wat", "the Alhambra", "Petra",
                 "the Golden Gate Bridge", "Table Mountain", "the Sagrada Família", "Uluru")
    counts = (("legs", "a spider"), ("players", "a basketball team"), ("strings", "a cello"), ("moons", "Mars"),
              ("states", "the USA"), ("chambers", "the human heart"), ("rings", "the Olympic flag"),
              ("squares", "a chessboard"), ("bones", "the human skull"))
    out = _fill(rng, ("In which year did {e}?", "When did {e}?", "What year did {e}?"), 40, e=events)
    out += _fill(rng, ("What does {a} stand for?", "{a} is short for what?", "What is the full form of {a}?"), 30,
                 a=acronyms)
    out += _fill(rng, ("Which country is {l} in?", "{l} is located in which country?", "Where is {l}?",
                       "In what country would you find {l}?"), 35, l=landmarks)
    out += [rng.choice(("How many {0} does {1} have?", "Number of {0} in {1}?")).format(*rng.choice(counts))
            for _ in range(25)]
    out += _fill(rng, ("Name the author of {b}.", "Name the capital of {c}.", "Name the chemical element with the "
                       "symbol of {e}."), 30, b=_BOOKS, c=_CAPITALS, e=_ELEMENTS)
    foreign = ("¿Quién escribió {b}?", "Wer hat {b} geschrieben?", "Qui a écrit {b} ?", "Chi ha scritto {b}?",
               "Was ist die Hauptstadt von {c}?", "Quelle est la capitale de ce pays : {c} ?", "{c}的首都是哪里？",
               "Em que continente fica {c}?", "Welche Sprache spricht man in {c}?", "¿Qué moneda se usa en {c}?")
    out += _fill(rng, foreign, 60, b=_BOOKS, c=_CAPITALS)
    for _ in range(50):
        a = rng.randint(10, 40)
        opts = [str(a + k) for k in rng.sample(range(0, 12), 4)]
        q = rng.choice(("Which of these numbers is a perfect square?", "Which one is an even number?",
                        "Which of the following is closest to pi times ten?", "Which is the largest?"))
        out.append(q + " " + " ".join(f"{L}) {o}" for L, o in zip("ABCD", opts)))
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


_CONSTRAINTS_MORE = (
    "End it with the words '{p}'.", "Close with the sentence \"{p}\".", "Before answering, repeat the question "
    "exactly as written.", "Give exactly {n} numbered steps.", "Number the items from 1 to {n}.",
    "Use only words of {n} letters or fewer.", "Every sentence must end with an exclamation mark.",
    "Put every key term in bold.", "Format it as a markdown table.", "Use a markdown heading for each part.",
    "Split it into {n} parts titled Part 1, Part 2 and so on.", "Each line must start with the letter {L}.",
    "Write it as one single sentence.", "Keep every sentence under {n} words.", "No more than {n} lines.",
    "Include exactly {n} emojis.", "Do not use any adjectives.", "Use the word '{w}' exactly {n} times.",
    "Write it as a dialogue between two characters.", "Include a P.S. at the end.", "Use title case for every "
    "line.", "Give the answer as a numbered list of {n} items.", "Do not mention the word '{w}'.",
    "Answer in {lang} only.", "The response must be written entirely in {lang}.", "Limit it to {k} characters.",
    "The last word of your answer must be '{w}'.", "Put the entire response inside a code block.",
)


def _instruction_more(rng: random.Random) -> list[str]:
    words = ("Plants", "Today", "Imagine", "Honestly", "Listen", "Sunshine", "Firstly", "Remember")
    out = []
    for _ in range(300):
        parts = [rng.choice(_BASES).format(t=rng.choice(_TOPICS))]
        pool = _CONSTRAINTS_MORE if rng.random() < 0.7 else _CONSTRAINTS
        for c in rng.sample(pool, rng.choice((1, 1, 2))):
            parts.append(c.format(l=rng.choice("aeiotsnr"), L=rng.choice("ABCMST"), w=rng.choice(words),
                                  w2=rng.choice(words), n=rng.randint(2, 7), k=rng.choice((100, 140, 280)),
                                  m=200, lang=rng.choice(("French", "German", "Spanish", "Italian")),
                                  p=rng.choice(("The end.", "See you soon.", "Stay curious.", "Goodbye."))))
        out.append(" ".join(parts) if rng.random() < 0.8 else " ".join(parts[1:] + parts[:1]))
    return out


_INLINE = (  # constraints written into the request itself
    "in exactly {n} sentences", "in no more than {k} words", "in under {k} words", "in at least {m} words",
    "without using the letter '{l}'", "without the letter {l}", "using only words of one syllable",
    "with exactly {n} bullet points", "with exactly {n} numbered items", "as a list of {n} numbered steps",
    "in {n} paragraphs separated by ***", "with {n} sections, each starting with SECTION X",
    "ending with the phrase '{p}'", "that ends with the words \"{p}\"", "starting with the word '{w}'",
    "whose first word is '{w}'", "with every key word in bold", "with a title in double angular brackets",
    "in all capital letters", "in lowercase only", "with no commas at all", "in JSON format",
    "as a JSON object with the keys 'name' and 'reason'", "where every line begins with the letter {L}",
    "in which no sentence is longer than {n} words", "with the word '{w}' appearing exactly {n} times",
    "separated by six asterisks ******", "inside double quotation marks", "with at least {n} placeholders in "
    "square brackets", "as a markdown table with {n} rows", "with each item on its own line and no punctuation",
)
_INLINE_BASES = ("Write a poem about {t}", "Describe {t}", "Tell me about {t}", "Write a short story about {t}",
                 "Make a to-do list for {t}", "Give me tips about {t}", "Write an email about {t}",
                 "Summarise the history of {t}", "Explain {t}", "List some facts about {t}",
                 "Write a product description for {t}", "Write two short jokes about {t}")


def _instruction_inline(rng: random.Random) -> list[str]:
    words = ("Plants", "Today", "Imagine", "Deep", "Listen", "Morning", "Firstly", "Remember")
    out = []
    for _ in range(320):
        c = rng.choice(_INLINE).format(l=rng.choice("aeiotsnr"), L=rng.choice("ABCMST"), w=rng.choice(words),
                                       n=rng.randint(2, 7), k=rng.choice((30, 50, 80, 100)),
                                       m=rng.choice((150, 200, 300)), p=rng.choice(("The end.", "Stay curious.")))
        base = rng.choice(_INLINE_BASES).format(t=rng.choice(_TOPICS))
        out.append(rng.choice(("{b} {c}.", "{b}, {c}.", "{b}. Do it {c}.", "Could you {lb} {c}?")).format(
            b=base, c=c, lb=base[0].lower() + base[1:]))
    return out


_TOOLS_FRAMES = ("How do I {t}?", "What's the command to {t}?", "how to {t}", "Is there a way to {t}?",
                 "Quick question: how can I {t}?", "Show me how to {t}.")
_SCRIPTS = ("backs up a folder to another disk every night", "renames photos by their date", "checks if a website "
            "is up and emails me if not", "deletes log files older than 30 days", "pulls every git repo in a "
            "folder", "converts all PNG images to JPEG", "watches a folder and runs the tests on change")


def _code_tools(rng: random.Random) -> list[str]:
    out = _fill(rng, _TOOLS_FRAMES, 90, t=_TOOLS)
    out += _fill(rng, ("Write a bash script that {s}.", "Write a PowerShell script that {s}.",
                       "Can you make a shell script that {s}?", "I need a Python script that {s}."), 60, s=_SCRIPTS)
    return out


# ------------------------------------------------- wider kinds: styles, web and devops, short requests
# Kinds of query the first templates under-covered: proofs and counting problems; web, HTTP and language-
# concept questions; short translation requests that name the language without "translate"; notes and
# brainstorming without format constraints; factual questions of many shapes (science numbers, "which
# country", quoted titles, other languages); and casual lower-case / typo styles for every family.


def _casual(rng: random.Random, q: str) -> str:
    """`q` written casually some of the time: lower case, no final punctuation, a dropped apostrophe."""
    r = rng.random()
    if r < 0.2:
        q = q[0].lower() + q[1:]
        q = q.rstrip(".?!") if rng.random() < 0.6 else q
        return q.replace("What's", "whats").replace("what's", "whats").replace("I'm", "im")
    if r < 0.25:
        return q.lower()
    return q


_PROOFS = ("there are infinitely many primes", "the product of two consecutive integers is even",
           "n^3 - n is divisible by 6 for every integer n", "the sum of the first n odd numbers is n^2",
           "log base 2 of 3 is irrational", "every prime greater than 3 is one more or one less than a multiple "
           "of 6", "1 + 2 + ... + n = n(n+1)/2", "the angles of a triangle add up to 180 degrees",
           "a number is divisible by 9 when its digit sum is", "there is no largest even number",
           "the square of an odd number is odd", "2^n > n for every positive integer n",
           "the diagonals of a parallelogram bisect each other", "e is irrational", "the harmonic series diverges")
_COUNT_THINGS = (("passwords of {k} lowercase letters", "letters may not repeat"),
                 ("licence plates with {k} letters followed by 3 digits", "any letter or digit may repeat"),
                 ("{k}-digit numbers", "the first digit is not zero"), ("ways to choose a team of {k} from 12 "
                  "players", "order does not matter"), ("ways to arrange {k} books on a shelf", "all books differ"),
                 ("lock combinations of {k} numbers from 0 to 39", "numbers may repeat"),
                 ("ways to seat {k} guests at a round table", "rotations count as the same"),
                 ("paths from one corner of a {k} by {k} grid to the opposite corner", "moving only right or up"),
                 ("outfits from {k} shirts, 4 trousers and 3 hats", "you wear one of each"))


def _math_wide(rng: random.Random) -> list[str]:
    n = rng.randint
    out = _fill(rng, ("Prove that {p}.", "Show that {p}.", "Can you prove that {p}?", "Give a proof that {p}.",
                      "Why is it true that {p}? Prove it."), 45, p=_PROOFS)
    for _ in range(70):
        thing, cond = rng.choice(_COUNT_THINGS)
        thing = thing.format(k=n(3, 6))
        out.append(rng.choice((f"How many {thing} are possible if {cond}?", f"How many different {thing} are "
                               f"there?", f"Count the {thing}, given that {cond}.", f"If {cond}, how many {thing} "
                               "can be made?")))
    words = ("BANANA", "LETTER", "MISSISSIPPI", "STATISTICS", "COOKIE", "APPLE")
    for _ in range(90):
        a, b, c = n(2, 60), n(2, 40), n(100, 900)
        out.append(_casual(rng, rng.choice((
            f"How many ways can the letters of {rng.choice(words)} be arranged?",
            f"What's {a}% of {c}?", f"how much is {a} percent off {c} dollars", f"what is {b}/{a} as a decimal",
            f"A bag has {a} red and {b} blue marbles. What is the chance of drawing two red ones in a row?",
            f"Two trains {c} km apart head towards each other at {a} km/h and {b} km/h. When do they meet?",
            f"A tank fills in {a} minutes and drains in {b + a} minutes. How long to fill it with both open?",
            f"What is the next number in the sequence {a}, {a + b}, {a + 2 * b}, {a + 3 * b}?",
            f"The sum of two numbers is {c} and their difference is {a}. What are they?",
            f"A rectangle's length is {a} cm more than its width and its area is {c} cm². Find its sides.",
            f"What's the hypotenuse of a right triangle with legs {a} and {b}?",
            f"If f(x) = {a}x^2 - {b}, what is f({n(2, 9)})?", f"Solve the system x + y = {c}, x - y = {a}.",
            f"What is the expected value of a fair {rng.choice((6, 8, 12, 20))}-sided die?",
            f"How many minutes are {a} hours and {b} minutes in total?",
            f"A tip of {n(10, 25)}% on a ${c // 10} bill comes to how much?",
            f"Berechne {a} % von {c}.", f"Wie groß ist der Umfang eines Kreises mit Radius {b} cm?",
            f"¿Cuál es el {a} % de {c}?", f"Quelle est l'aire d'un carré de côté {b} m ?",
            f"Wie viele Minuten hat ein Tag?", f"Un coche gasta {n(5, 9)} litros cada 100 km. ¿Cuánto gasta en {c} km?",
            f"What is the mean of the first {b} even numbers?", f"Find all real roots of x^2 - {a}x + {b} = 0.",
            f"Is {c + 1} a prime number? Show why.", f"What is {a}! divided by {a - 1}!?",
            f"Express {a}/{c} as a percentage.", f"What's the median of {a}, {b}, {c}, {a + b} and {n(1, 99)}?",
        ))))
    return out


_CONCEPTS = ("closures", "generators", "decorators", "promises", "async/await", "lifetimes", "goroutines",
             "traits", "interfaces", "pointers", "monads", "hoisting", "prototypal inheritance", "list "
             "comprehensions", "the event loop", "dependency injection", "recursion", "memoisation", "mutexes",
             "virtual functions", "generics", "pattern matching", "the borrow checker", "context managers",
             "higher-order functions", "currying", "immutability", "garbage collection", "channels", "enums")
_CODE_LANG_CONCEPT = ("JavaScript", "Python", "Rust", "Go", "C++", "Java", "Haskell", "TypeScript", "Kotlin",
                      "Scala", "C#", "Swift")
_HTTP_TOOLS = ("curl", "fetch", "axios", "the requests library", "HttpClient in C#", "wget", "Python's urllib",
               "Go's net/http", "OkHttp", "PowerShell", "jQuery")
_WEB_ASKS = ("send a {m} request with {t}", "add an Authorization header to a {m} request using {t}",
             "upload a file with a {m} request in {t}", "send JSON in the body of a {m} request with {t}",
             "handle a timeout when calling an API with {t}", "read the response headers with {t}",
             "retry a failed {m} request with {t}")
_FRAMEWORKS = ("Express", "Flask", "Django", "FastAPI", "Spring Boot", "Rails", "Laravel", "ASP.NET Core", "Gin",
               "Next.js", "NestJS", "Phoenix")
_APPS = ("a REST API for a todo list", "CRUD routes for a product catalogue", "a login endpoint with JWT",
         "a webhook receiver", "pagination for a list endpoint", "file uploads to S3", "rate limiting",
         "a health-check route", "a GraphQL endpoint for users", "websocket chat")
_WIDGETS = ("a signup form with email and password", "a responsive navigation menu", "a pricing table with "
            "three plans", "a modal dialog", "a dark-mode toggle", "an image carousel", "a dropdown menu",
            "a card grid of products", "a footer with social links", "a search box with autocomplete",
            "a progress bar", "a sortable table")
_FRONT_BUGS = ("my React component re-render on every keystroke", "my useState update not show up immediately",
               "my Vue computed property not update", "my CSS grid overflow on mobile", "my fetch call get a "
               "CORS error", "my Angular service run twice", "my z-index not work", "my flexbox items not "
               "wrap", "my Node server crash with EADDRINUSE", "my Docker container exit immediately",
               "my Kubernetes pod keep restarting", "my GitHub Actions job not find my secrets",
               "my pip install fail with a permission error", "npm install take forever")
_SQL_Q = ("SELECT * FROM orders WHERE status = 'open' ORDER BY created_at",
          "SELECT name FROM employees e JOIN departments d ON e.dept = d.id WHERE d.name = 'Sales'",
          "SELECT COUNT(*) FROM logs WHERE created_at > NOW() - INTERVAL '1 day'",
          "SELECT DISTINCT city FROM customers WHERE country LIKE '%land%'")


def _code_wide(rng: random.Random) -> list[str]:
    out = _fill(rng, ("What are {c} in {l}? Show an example.", "Explain {c} in {l} with a short example.",
                      "Can you explain how {c} work in {l}?", "{l}: what are {c} and when should I use them?",
                      "i dont get {c} in {l}, can you explain with code?"), 70, c=_CONCEPTS, l=_CODE_LANG_CONCEPT)
    for _ in range(70):
        ask = rng.choice(_WEB_ASKS).format(m=rng.choice(("GET", "POST", "PUT", "PATCH", "DELETE")),
                                           t=rng.choice(_HTTP_TOOLS))
        out.append(_casual(rng, rng.choice(("How do I {a}?", "How can I {a}?", "What's the way to {a}?",
                                            "Show me how to {a}.")).format(a=ask)))
    out += _fill(rng, ("Build {a} in {f}.", "How do I implement {a} with {f}?", "Set up {a} using {f}.",
                       "Create {a} in {f}, with an example request."), 50, a=_APPS, f=_FRAMEWORKS)
    out += _fill(rng, ("Write the HTML and CSS for {w}.", "Write the markup for {w}.", "Make {w} with "
                       "Tailwind.", "Code {w} in React.", "Create {w} using plain HTML, CSS and JavaScript."), 45,
                 w=_WIDGETS)
    out += [_casual(rng, rng.choice(("Why does {b}?", "Why would {b}? How do I fix it?")).format(
        b=rng.choice(_FRONT_BUGS).replace("my ", "my ", 1))) for _ in range(45)]
    out += _fill(rng, ("Optimise this query: {q};", "Why is this SQL slow? {q}", "Rewrite this query to use an "
                       "index: {q}", "What does this query return? {q}"), 20, q=_SQL_Q)
    out += _fill(rng, ("Give me a regex for {r}.", "What regex matches {r}?", "Regular expression to match {r}?"),
                 15, r=("a German postcode", "a time like 23:59", "a Twitter handle", "a MAC address",
                        "a semantic version", "a credit card number", "a URL slug"))
    return out


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
    out = [_casual(rng, rng.choice(short).format(p=rng.choice(_PHRASES), L=rng.choice(_ALL_LANGS),
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
    out += _fill(rng, foreign, 40, p=phrases, **names)
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
    out = [_casual(rng, rng.choice(("Write {n}.", "Can you write {n}?", "Help me write {n}.", "Draft {n}.",
                                    "I need {n}.")).format(n=rng.choice(_NOTES).format(
        r=rng.choice(_RECIPIENTS), x=rng.choice(_FOR_X)))) for _ in range(110)]
    out += [_casual(rng, rng.choice(("Let's brainstorm {b}.", "Brainstorm {b} with me.", "Any {b}?",
                                     "I need some {b}.", "Give me a few {b}.", "What are good {b}?")).format(
        b=rng.choice(_BRAINSTORM))) for _ in range(90)]
    choices = (("learn Spanish", "learn Italian"), ("study in the morning", "study at night"), ("lease a car",
               "buy a used one"), ("take the job offer", "stay where I am"), ("get a cat", "get a dog"),
               ("pay off debt", "start investing"), ("go to university", "start working"), ("fly", "take the "
               "train"), ("use a standing desk", "keep my chair"), ("move to the city", "stay in my hometown"))
    out += [_casual(rng, rng.choice(("Is it better to {a} or {b}?", "Should I {a} or {b}?", "{A} or {b}: what "
                                     "would you do?", "Do you think it's smarter to {a} or {b}?")).format(
        a=a, b=b, A=a[0].upper() + a[1:])) for a, b in (rng.choice(choices) for _ in range(40))]
    from rlar_jax.datasets.constraints import TOPICS

    out += [_casual(rng, rng.choice(_INLINE_BASES).format(t=rng.choice(TOPICS)) + rng.choice((".", "?", "!", "")))
            for _ in range(80)]
    return out


_SCIENCE = (("boiling point", ("mercury", "nitrogen", "acetone", "olive oil", "salt water")),
            ("melting point", ("gold", "ice", "aluminium", "tungsten", "copper")),
            ("density", ("lead", "seawater", "air at sea level", "granite")),
            ("atomic mass", ("carbon", "hydrogen", "uranium", "chlorine")),
            ("half-life", ("carbon-14", "uranium-238", "iodine-131")))
_BODY = (("teeth", "a cat"), ("chromosomes", "a human cell"), ("vertebrae", "the human spine"), ("legs", "an "
         "insect"), ("hearts", "an earthworm"), ("stomachs", "a cow"), ("eyes", "a bee"), ("keys", "a piano"),
         ("players", "a rugby union team"), ("moons", "Neptune"), ("strings", "a bass"), ("wheels", "a tricycle"))
_PLACES = (("the Dead Sea", "which two countries"), ("Mount Kilimanjaro", "which country"), ("the Atacama Desert",
           "which country"), ("Lake Titicaca", "which two countries"), ("the island of Bali", "which country"),
           ("the Danube", "how many countries"), ("the Galápagos Islands", "which country"), ("Transylvania",
           "which country"), ("the Strait of Gibraltar", "which two continents"), ("Patagonia", "which countries"))
_QUOTED_WORKS = (("novel", "Wuthering Heights"), ("play", "Death of a Salesman"), ("novel", "The Catcher in the "
                 "Rye"), ("painting", "The Starry Night"), ("opera", "La Traviata"), ("novel", "Midnight's Children"),
                 ("poem", "The Raven"), ("symphony", "the New World Symphony"), ("novel", "The Name of the Rose"),
                 ("film", "Seven Samurai"), ("novel", "Anna Karenina"), ("play", "A Doll's House"))
_FACT_ASKS = ("Which gas do plants absorb from the air?", "What is the largest organ of the human body?",
              "Who proposed the theory of evolution by natural selection?", "Which metal is liquid at room "
              "temperature?", "What is the most spoken language in South America?", "What is the SI unit of "
              "electric current?", "Which ocean is the deepest?", "Which bird is the fastest in a dive?",
              "Which mineral is table salt made of?", "What part of the cell makes energy?", "Who wrote the "
              "national anthem of France?", "Which hormone regulates blood sugar?", "What is a baby kangaroo "
              "called?", "Which composer went deaf but kept writing music?", "Which river flows through Baghdad?",
              "What do bees collect to make honey?", "Which empire built Machu Picchu?", "What is the hardest "
              "bone in the body?", "Which country has the longest coastline?", "What instrument has 47 strings?")


def _other_wide(rng: random.Random) -> list[str]:
    out = []
    for _ in range(60):
        prop, things = rng.choice(_SCIENCE)
        t = rng.choice(things)
        out.append(_casual(rng, rng.choice((f"What is the {prop} of {t}?", f"{prop.capitalize()} of {t}?",
                                            f"Do you know the {prop} of {t}?", f"Look up the {prop} of {t} for me."))))
    out += [_casual(rng, rng.choice(("How many {0} does {1} have?", "How many {0} does {1} usually have?",
                                     "{1} has how many {0}?")).format(*rng.choice(_BODY))) for _ in range(45)]
    for _ in range(45):
        place, what = rng.choice(_PLACES)
        out.append(rng.choice((f"{place} is in {what}?", f"{place} lies in {what}?", f"In {what} would you find "
                               f"{place}?", f"{place} belongs to {what}?", f"{place[0].upper() + place[1:]} is "
                               f"found in {what}?")))
    out += [rng.choice(("Name the author of '{w}'.", "Who wrote the {k} '{w}'?", "Who created the {k} \"{w}\"?",
                        "The {k} '{w}' is by whom?", "Name the creator of the {k} '{w}'.",
                        "Which century is the {k} '{w}' from?")).format(k=k, w=w)
            for k, w in (rng.choice(_QUOTED_WORKS) for _ in range(60))]
    out += [_casual(rng, q) for q in _FACT_ASKS]
    tails = (("Canberra", "is the capital of which country"), ("The Nile", "flows into which sea"), ("Kiswahili",
             "is spoken mainly in which region"), ("The Andes", "run along which continent"), ("The yen", "is the "
             "currency of which country"), ("Mount Fuji", "is on which island"), ("The Rhine", "rises in which "
             "mountains"), ("The telescope", "was improved by which Italian scientist"), ("Penicillin", "was "
             "discovered by whom"), ("The Parthenon", "stands in which city"), ("Sushi", "comes from which "
             "country"), ("The Amazon rainforest", "covers parts of how many countries"))
    out += [f"{a} {b}?" for a, b in tails]
    foreign = ("Wer hat das Telefon erfunden?", "Wer entdeckte Amerika?", "Wie hoch ist die Zugspitze?",
               "Welcher Planet ist der Sonne am nächsten?", "Wann begann der Zweite Weltkrieg?",
               "Wer schrieb Faust?", "Wie heißt die Hauptstadt von Kanada?", "¿Quién descubrió la penicilina?",
               "¿Cuál es el río más largo del mundo?", "¿En qué año llegó el hombre a la Luna?",
               "¿Quién pintó Las Meninas?", "Qui a inventé l'imprimerie ?", "Quelle est la plus haute montagne "
               "d'Europe ?", "Qui a peint La Joconde ?", "Chi ha dipinto la Cappella Sistina?",
               "Qual é o maior país da América do Sul?", "Wie is de koning van Nederland?", "Кто написал «Войну и "
               "мир»?", "谁发明了电话？", "日本の首都はどこですか？", "Hvad er hovedstaden i Norge?",
               "Welke rivier stroomt door Keulen?", "Wer komponierte die Zauberflöte?", "Welches Tier ist das "
               "größte an Land?")
    out += list(foreign)
    return out


_INLINE_MORE = (  # constraint phrasings the other templates lack
    "and end it with the sentence '{p}'", "and finish with the words \"{p}\"", "using exactly {n} sentences",
    "in {n} short paragraphs", "in {n} bullet points", "with {n} numbered items", "in under {k} characters",
    "in fewer than {k} words", "and make sure every sentence ends with a question mark", "using no commas",
    "with the whole thing in lowercase", "with each paragraph starting with the word '{w}'",
    "without ever using the letter '{l}'", "where the letter '{l}' appears at least {n} times",
    "as a numbered list with exactly {n} entries", "in exactly {n} lines", "with a title like <<My Title>>",
    "and mark each part with SECTION 1, SECTION 2 and so on", "in two paragraphs separated by ***",
)


def _instruction_wide(rng: random.Random) -> list[str]:
    from rlar_jax.datasets.constraints import TOPICS

    out = []
    for _ in range(180):
        c = rng.choice(_INLINE_MORE).format(n=rng.randint(2, 8), k=rng.choice((40, 60, 120, 200)), l=rng.choice(
            "aeiousnt"), w=rng.choice(("Yes", "Now", "Once", "Today")), p=rng.choice(("That is all.", "Bye for now.",
                                                                                    "Thanks for reading.")))
        base = rng.choice(_INLINE_BASES + tuple(b.rstrip(".") for b in _BASES)).format(t=rng.choice(TOPICS))
        q = rng.choice(("{b} {c}.", "{b}, {c}.", "{c}: {lb}.")).format(b=base, c=c, lb=base[0].lower() + base[1:])
        out.append(_casual(rng, q[0].upper() + q[1:]))
    return out


BUILDERS = {"math": _math, "code": _code, "translation": _translation, "dialogue": _dialogue,
            "instruction": _instruction, "other": _other}


def training_queries(seed: int = 0, per_family: int = PER_FAMILY) -> list[tuple[str, str]]:
    """(query, family) pairs for every family, at most `per_family` each, duplicates removed; deterministic."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for family, build in BUILDERS.items():
        rng = random.Random(f"routing:{family}:{seed}")
        queries = [q.strip() for q in build(rng) if q.strip()]
        queries = [q for q in dict.fromkeys(queries) if q not in seen]
        if len(queries) > per_family:
            queries = rng.sample(queries, per_family)
        seen.update(queries)
        out += [(q, family) for q in queries]
    return out
