"""Training queries of the "instruction" family: requests with format constraints stated in words."""

from __future__ import annotations

import random

from rlar_jax.datasets.registry import bundled_file
from rlar_jax.rewards.routing_data.common import casual, read_jsonl

_BASES = ("Write a haiku about {t}.", "Draft a cover letter for a job at {t}.", "Write a limerick about {t}.",
          "Create a packing list for {t}.", "Write a tweet announcing {t}.", "Describe {t}.",
          "Write a product review of {t}.", "Explain {t} to a child.", "Write a rap song about {t}.",
          "Write a riddle about {t}.", "Give me a recipe inspired by {t}.", "Write an essay about {t}.",
          "Write a startup pitch for {t}.", "Compose an email inviting colleagues to {t}.",
          "Write a song for kids about {t}.", "Write a news headline and summary about {t}.")


_TOPICS = ("a bakery in Paris", "the history of the internet", "a robot learning to paint", "a weekend in Rome",
           "time management", "a new smartphone", "the water cycle", "volunteering at an animal shelter",
           "a company picnic", "quantum computers", "a mountain hike", "the benefits of reading",
           "a jazz festival", "a dragon who loves tea", "space tourism", "a lost wallet",
           # technical topics: constraints on the answer's form make these instruction requests, not code
           "recursion in programming", "how a hash map works", "big O notation", "version control with Git")


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
    out = [r["prompt"] for r in rng.sample(list(read_jsonl(bundled_file("ifgen", "train"))), 330)]
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
        out.append(casual(rng, q[0].upper() + q[1:]))
    return out
