"""Task families and their verifiers: every family -> verifier map comes from the declarations in
`verifiers/*.py`, read with ast (never executed), with errors naming the file."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from rlar_jax.rewards import families
from rlar_jax.rewards.families import (TASK_FAMILIES, DeclarationError, derive, eval_verifiers, read_declaration,
                                       read_declarations, seed_for_family, seed_tasks)
from rlar_jax.sandbox.sources import SEED_DIR


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.py"
    path.write_text(f'"""A test verifier."""\n\n{text}\n\ndef score(prompt, response, reference, meta):\n'
                    f'    return 1.0\n', encoding="utf-8")
    return path


def test_derived_maps_are_what_the_seed_verifiers_declare():
    assert dict(seed_for_family()) == {"math": "math_answer", "code": "code_tests", "translation": "translation_chrf",
                                       "instruction": "format_constraints", "other": "exact_match"}
    assert dict(eval_verifiers()) == {"math": "math_answer", "code": "code_tests", "translation": "translation_chrf",
                                      "instruction": "format_constraints"}
    assert dict(seed_tasks()) == {
        "code_tests": ("code",), "exact_match": ("other",), "format_constraints": TASK_FAMILIES,
        "math_answer": ("math",), "multiple_choice": ("other",), "translation_bleu": ("translation",),
        "translation_chrf": ("translation",)}
    # ... and each entry is backed by the file's own declaration
    for vid, fams in seed_tasks().items():
        decl = read_declaration(SEED_DIR / f"{vid}.py")
        assert decl.families == fams and set(decl.default_for) <= set(fams) and set(decl.eval_for) <= set(fams)
        assert all(seed_for_family()[f] == vid for f in decl.default_for)
        assert all(eval_verifiers()[f] == vid for f in decl.eval_for)
    assert "dialogue" not in seed_for_family()  # open-ended: scored by reward models, no seed verifier


def test_the_maps_are_read_only():
    with pytest.raises(TypeError):
        seed_for_family()["math"] = "exact_match"  # type: ignore[index]


def test_a_new_verifier_declaring_a_family_is_picked_up(tmp_path):
    seeds = tmp_path / "verifiers"
    shutil.copytree(SEED_DIR, seeds)
    _write(seeds, "word_overlap", 'FAMILIES = ("dialogue", "other")\nDEFAULT_FOR = ("dialogue",)\n'
                                  'EVAL_FOR = ["dialogue"]')
    maps = derive(read_declarations(seeds))
    assert maps.seed_for_family["dialogue"] == "word_overlap" and maps.eval_verifiers["dialogue"] == "word_overlap"
    assert maps.seed_tasks["word_overlap"] == ("dialogue", "other")
    assert maps.seed_for_family["other"] == "exact_match"  # the others unchanged
    assert list(maps.seed_for_family) == [f for f in TASK_FAMILIES if f in maps.seed_for_family]


def test_declarations_are_read_without_running_the_file(tmp_path):
    marker = tmp_path / "ran"
    path = _write(tmp_path, "noisy", f'open({str(marker)!r}, "w").write("x")\nraise SystemExit(3)\n'
                                     f'FAMILIES = ("code",)\nDEFAULT_FOR = ("code",)')
    decl = read_declaration(path)
    assert (decl.verifier_id, decl.families, decl.default_for, decl.eval_for) == ("noisy", ("code",), ("code",), ())
    assert not marker.exists()


def test_the_planner_and_the_held_out_metric_follow_the_declarations(tmp_path, monkeypatch):
    from rlar_jax.rewards.evolution import Evidence
    from rlar_jax.rewards.plan import Component, RewardPlan
    from rlar_jax.rewards.planner import OfflinePlanner

    seeds = tmp_path / "verifiers"
    shutil.copytree(SEED_DIR, seeds)
    _write(seeds, "word_overlap", 'FAMILIES = ("dialogue",)\nDEFAULT_FOR = ("dialogue",)')
    maps = derive(read_declarations(seeds))
    monkeypatch.setattr(families, "family_maps", lambda: maps)
    plan = RewardPlan("sig", "dialogue", (Component("verifier", "gen-0123456789ab", 1.0),), "generated")
    ev = Evidence("sig", plan.plan_id, "failure_rate", "gen-0123456789ab", {"failure_rate": 0.9})
    assert [c.id for c in OfflinePlanner().replan(plan, ev).components] == ["word_overlap"]

    # the held-out metric: a dialogue example is now scored by the verifier declaring dialogue in EVAL_FOR
    maps = derive(read_declarations(_write(seeds, "word_overlap", 'FAMILIES = ("dialogue",)\nEVAL_FOR = ("dialogue",)'
                                           ).parent))
    from rlar_jax.datasets.examples import Example
    from rlar_jax.rewards.engine import ScoringEngine
    from rlar_jax.rewards.factory import eval_reward_fn

    def train_plans(examples):
        raise AssertionError("a family with a held-out verifier must not use the training plan")

    metric = eval_reward_fn(ScoringEngine(None, train_plans, lambda vid: ""))
    chat = Example(({"role": "user", "content": "Tell me about your day."},), "", task="dialogue")
    (fixed,) = metric.plan_for([chat])
    assert (fixed.task_family, [c.id for c in fixed.components]) == ("dialogue", ["word_overlap"])


@pytest.mark.parametrize("text, needle", [
    ('FAMILIES = ("math", "chess")', r": FAMILIES names \['chess'\], not among the task families \['math', "),
    ('FAMILIES = tuple(["math"])', r":3: FAMILIES must be a literal \(a tuple of family names\), got "
                                   r"\"tuple\(\['math'\]\)\"; the host reads it without running the file"),
    ('FAMILIES = "math"', r": FAMILIES must be a tuple of family names or \"\*\", got 'math'"),
    ('FAMILIES = ("math", 3)', r": FAMILIES must be a tuple of family names or \"\*\", got \('math', 3\)"),
    ('FAMILIES = ("math", "math")', r": FAMILIES lists a family twice: \['math', 'math'\]"),
    ('FAMILIES = ("math",)\nDEFAULT_FOR = ("code",)', r": DEFAULT_FOR names \['code'\], not among the families of "
                                                      r"its FAMILIES \['math'\]"),
    ('FAMILIES = ("math",)\nEVAL_FOR = "*"', r": EVAL_FOR must be a tuple of family names, got '\*'"),
    ('FAMILIES = ("math",)\nFAMILIES = ("code",)', r":4: FAMILIES is assigned more than once"),
    ('CASES = []', r": no module-level FAMILIES declaration; expected e.g. FAMILIES = \(\"math\",\)"),
    ('def f():\n    FAMILIES = ("math",)', r": no module-level FAMILIES declaration"),
    ('FAMILIES = (', r": not valid Python"),
])
def test_a_bad_declaration_names_the_file_and_what_was_expected(tmp_path, text, needle):
    path = _write(tmp_path, "bad_one", text)
    with pytest.raises(DeclarationError, match="^" + re.escape(str(path)) + needle):
        read_declaration(path)


def test_two_verifiers_claiming_one_family_name_both_files(tmp_path):
    _write(tmp_path, "first", 'FAMILIES = ("math",)\nDEFAULT_FOR = ("math",)')
    _write(tmp_path, "second", 'FAMILIES = ("math",)\nDEFAULT_FOR = ("math",)')
    with pytest.raises(DeclarationError, match=r"DEFAULT_FOR claims family 'math' twice, in first\.py and "
                                               r"second\.py; one verifier per family"):
        derive(read_declarations(tmp_path), str(tmp_path))
    with pytest.raises(FileNotFoundError, match="seed verifier directory not found"):
        read_declarations(tmp_path / "missing")


def test_the_library_stores_each_seed_with_its_declared_families():
    from rlar_jax.rewards.library import Library

    with Library(":memory:") as lib:
        assert lib.get_verifier("format_constraints")["tasks"] == list(TASK_FAMILIES)
        assert lib.get_verifier("multiple_choice")["tasks"] == ["other"]
