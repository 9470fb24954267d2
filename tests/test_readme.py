"""README.md tells the truth about the code: its command table lists exactly the commands the `rlar-jax`
parser has (with options that exist and the parser's own help text), and its layout names every module."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from rlar_jax.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _section(title: str) -> str:
    """The text of the README section `## title` (up to the next `## ` heading)."""
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
            ) -> dict[tuple[str, ...], tuple[argparse.ArgumentParser, str]]:
    """Every runnable command (a parser without sub-commands) by its words, with its parser and help text."""
    out: dict[tuple[str, ...], tuple[argparse.ArgumentParser, str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                inner = _leaves(sub, path + (name,))
                out.update(inner or {path + (name,): (sub, helps.get(name, ""))})
    return out


def _rows() -> list[tuple[str, str]]:
    """(command cell, description cell) of each row of the command table."""
    rows = []
    for line in _section("Commands").splitlines():
        if not line.startswith("| `rlar-jax"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert len(cells) == 2, line
        rows.append((cells[0], cells[1]))
    return rows


def _command_words(usage: str, leaves: dict) -> tuple[str, ...]:
    """The longest prefix of `usage`'s words (after `rlar-jax`) that names a command in `leaves`."""
    words = usage.split()[1:]
    known = {p[:i] for p in leaves for i in range(1, len(p) + 1)}
    n = 0
    while n < len(words) and tuple(words[:n + 1]) in known:
        n += 1
    return tuple(words[:n])


def test_command_table_matches_the_parser():
    leaves = _leaves(build_parser())
    assert ("train",) in leaves and ("models", "export") in leaves and ("verifiers", "score") in leaves
    listed: dict[tuple[str, ...], str] = {}
    for cell, description in _rows():
        [usage] = re.findall(r"`(rlar-jax [^`]*)`", cell)
        words = _command_words(usage, leaves)
        assert words in leaves, f"README lists {usage!r}, which is no rlar-jax command"
        assert words not in listed, f"README lists {' '.join(words)} twice"
        parser, help_text = leaves[words]
        options = {o for a in parser._actions for o in a.option_strings}
        for option in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", usage):
            assert option in options, f"README: {' '.join(words)} has no option {option}"
        assert help_text and description.startswith(help_text), \
            f"README: the description of {' '.join(words)} should start with its help text {help_text!r}"
        listed[words] = description
    missing = sorted(" ".join(w) for w in set(leaves) - set(listed))
    assert not missing, f"commands missing from README's command table: {missing}"


def test_layout_names_every_module():
    layout = _section("Layout (the data flow)")
    named = re.findall(r"^(rlar_jax/\S+\.py)[ \t]+\S", layout, flags=re.M)  # a path, then its description
    modules = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "rlar_jax").rglob("*.py"))
    assert len(named) == len(set(named)), "a module is listed twice in README's layout"
    assert sorted(set(modules) - set(named)) == [], "modules missing from README's layout"
    assert sorted(set(named) - set(modules)) == [], "README's layout lists modules that do not exist"


def test_command_words_are_the_longest_known_prefix():
    leaves = {("plan",): None, ("models", "pull"): None}
    assert _command_words("rlar-jax models pull NAME", leaves) == ("models", "pull")
    assert _command_words("rlar-jax models NAME", leaves) == ("models",)
    assert _command_words("rlar-jax nope", leaves) == ()
