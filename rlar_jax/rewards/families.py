"""Task families, and which seed verifier serves each family: declared by the verifiers themselves.

Every seed verifier (`verifiers/<id>.py`) states, as module-level literal assignments,
  FAMILIES     the task families it can score: a tuple of family names, or "*" for every family
  DEFAULT_FOR  families whose seed verifier it is (optional): the planner's fallback scorer and the
               replacement for a failing generated verifier; at most one per family
  EVAL_FOR     families whose held-out metric it computes (optional); at most one per family
The host reads these with `ast` and `ast.literal_eval` only: verifier code runs in the sandbox, never in
the host interpreter. Every family -> verifier map of the reward side is derived here from them, so adding
a seed verifier (or moving a family to another one) is an edit of the verifier file alone; adding a family
is one entry of TASK_FAMILIES plus the declarations of the verifiers that serve it.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

# The task families a query is classified into (plans, routing head outputs, catalog evidence), in the
# routing head's output order. The one list of them: everything else imports it.
TASK_FAMILIES: tuple[str, ...] = ("math", "code", "translation", "dialogue", "instruction", "other")
ALL_FAMILIES = "*"  # FAMILIES = "*": the verifier applies to every family (e.g. format constraints)
DECLARED_NAMES: tuple[str, ...] = ("FAMILIES", "DEFAULT_FOR", "EVAL_FOR")


class DeclarationError(ValueError):
    """A seed verifier's family declaration is missing, not a literal, or names an unknown family."""


@dataclasses.dataclass(frozen=True)
class Declaration:
    """What one seed verifier declares (families expanded: "*" is every family of TASK_FAMILIES)."""

    verifier_id: str
    families: tuple[str, ...]
    default_for: tuple[str, ...] = ()
    eval_for: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class FamilyMaps:
    """The maps derived from all declarations; read-only."""

    seed_for_family: Mapping[str, str]  # family -> its default seed verifier
    seed_tasks: Mapping[str, tuple[str, ...]]  # seed verifier id -> families it can score
    eval_verifiers: Mapping[str, str]  # family -> the verifier of its held-out metric


def _literal(path: Path, node: ast.Assign, name: str) -> Any:
    try:
        return ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, RecursionError) as e:  # what literal_eval raises on code
        raise DeclarationError(
            f"{path}:{node.lineno}: {name} must be a literal (a tuple of family names), got "
            f"{ast.unparse(node.value)!r}; the host reads it without running the file") from e


def _family_tuple(path: Path, name: str, value: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if name == "FAMILIES" and value == ALL_FAMILIES:
        return TASK_FAMILIES
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) for v in value):
        star = f' or "{ALL_FAMILIES}"' if name == "FAMILIES" else ""
        raise DeclarationError(f"{path}: {name} must be a tuple of family names{star}, got {value!r}")
    unknown = [v for v in value if v not in allowed]
    if unknown:
        what = "task families" if allowed == TASK_FAMILIES else "families of its FAMILIES"
        raise DeclarationError(f"{path}: {name} names {unknown}, not among the {what} {list(allowed)}")
    if len(set(value)) != len(value):
        raise DeclarationError(f"{path}: {name} lists a family twice: {list(value)}")
    return tuple(value)


def read_declaration(path: str | Path) -> Declaration:
    """The family declaration of one verifier file, read with `ast` (the file is never executed);
    DeclarationError naming the file (and line) when it is missing, not a literal or names an unknown family."""
    path = Path(path)
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as e:
        raise DeclarationError(f"{path}: not valid Python ({e.msg}, line {e.lineno})") from e
    found: dict[str, Any] = {}
    for node in tree.body:  # module level only: a declaration inside a function or branch is not one
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and target.id in DECLARED_NAMES:
                if target.id in found:
                    raise DeclarationError(f"{path}:{node.lineno}: {target.id} is assigned more than once")
                found[target.id] = _literal(path, node, target.id)
    if "FAMILIES" not in found:
        raise DeclarationError(f"{path}: no module-level FAMILIES declaration; expected e.g. "
                               f"FAMILIES = (\"math\",) naming families of {list(TASK_FAMILIES)}")
    families = _family_tuple(path, "FAMILIES", found["FAMILIES"], TASK_FAMILIES)
    return Declaration(path.stem, families,
                       _family_tuple(path, "DEFAULT_FOR", found.get("DEFAULT_FOR", ()), families),
                       _family_tuple(path, "EVAL_FOR", found.get("EVAL_FOR", ()), families))


def read_declarations(directory: str | Path | None = None) -> dict[str, Declaration]:
    """Verifier id -> Declaration for every seed verifier in `directory` (default: the seed library)."""
    from rlar_jax.sandbox.sources import SEED_DIR

    d = Path(directory) if directory is not None else SEED_DIR
    if not d.is_dir():
        raise FileNotFoundError(f"seed verifier directory not found: {d}")
    return {p.stem: read_declaration(p) for p in sorted(d.glob("*.py")) if not p.name.startswith("_")}


def _unique(decls: Mapping[str, Declaration], field: str, directory: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for vid, decl in decls.items():
        for fam in getattr(decl, field):
            if fam in out:
                raise DeclarationError(f"{directory}: {field.upper()} claims family {fam!r} twice, in "
                                       f"{out[fam]}.py and {vid}.py; one verifier per family")
            out[fam] = vid
    return {fam: out[fam] for fam in TASK_FAMILIES if fam in out}  # family order, whatever the file order


def derive(decls: Mapping[str, Declaration], directory: str = "verifiers") -> FamilyMaps:
    """The family maps of a set of declarations; DeclarationError when two verifiers claim one family."""
    return FamilyMaps(
        seed_for_family=MappingProxyType(_unique(decls, "default_for", directory)),
        seed_tasks=MappingProxyType({vid: d.families for vid, d in decls.items()}),
        eval_verifiers=MappingProxyType(_unique(decls, "eval_for", directory)))


@functools.cache
def family_maps() -> FamilyMaps:
    """The maps of the seed library's declarations (read once per process)."""
    from rlar_jax.sandbox.sources import SEED_DIR

    return derive(read_declarations(SEED_DIR), str(SEED_DIR))


def seed_for_family() -> Mapping[str, str]:
    """Family -> its default seed verifier (the verifier declaring the family in DEFAULT_FOR)."""
    return family_maps().seed_for_family


def seed_tasks() -> Mapping[str, tuple[str, ...]]:
    """Seed verifier id -> the task families it declares (FAMILIES)."""
    return family_maps().seed_tasks


def eval_verifiers() -> Mapping[str, str]:
    """Family -> the seed verifier of its held-out metric (the verifier declaring it in EVAL_FOR)."""
    return family_maps().eval_verifiers
