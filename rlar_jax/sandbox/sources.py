"""Verifier sources: identity (sha256) and the seed library (`verifiers/` of the repository, shipped inside
the package as `rlar_jax._verifiers`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

# The package that carries `verifiers/` in a built wheel (see [tool.setuptools.package-dir] in pyproject.toml).
SEED_PACKAGE = "rlar_jax._verifiers"


def find_seed_dir(repo_root: Path | None = None) -> Path:
    """The seed verifier directory: `verifiers/` of the source checkout this module runs from (a folder
    holding pyproject.toml; edits there are live), else the installed `rlar_jax._verifiers` package.
    When neither exists, the path where it was expected (for the error message)."""
    here = Path(__file__).resolve()
    root = here.parents[2] if repo_root is None else Path(repo_root)
    in_checkout = (root / "pyproject.toml").is_file()
    if in_checkout and (root / "verifiers").is_dir():
        return root / "verifiers"
    from importlib.util import find_spec

    try:
        spec = find_spec(SEED_PACKAGE)
    except ModuleNotFoundError:
        spec = None
    # a namespace package (the folder has no __init__.py): its folder is its search location
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        if Path(location).is_dir():
            return Path(location)
    return root / "verifiers" if in_checkout else here.parents[1] / "_verifiers"


SEED_DIR = find_seed_dir()


def source_sha256(source: str) -> str:
    """The identity of a verifier: sha256 of its UTF-8 source text (hex)."""
    if not isinstance(source, str):
        raise TypeError(f"verifier source must be a str, got {type(source).__name__}")
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def seed_verifiers() -> dict[str, Path]:
    """Seed verifier id (file stem) -> source file, from `SEED_DIR`."""
    if not SEED_DIR.is_dir():
        raise FileNotFoundError(f"seed verifier directory not found: {SEED_DIR}")
    return {p.stem: p for p in sorted(SEED_DIR.glob("*.py")) if not p.name.startswith("_")}


def load_verifier(id_or_path: str) -> str:
    """Source text of a seed verifier id (e.g. `math_answer`) or of a `.py` file path."""
    if not isinstance(id_or_path, (str, Path)):
        raise TypeError(f"expected a seed verifier id or a .py path, got {type(id_or_path).__name__}")
    text = str(id_or_path)
    seeds = seed_verifiers() if SEED_DIR.is_dir() else {}
    if text in seeds:
        return seeds[text].read_text(encoding="utf-8")
    path = Path(text)
    if path.suffix == ".py" and path.is_file():
        return path.read_text(encoding="utf-8")
    raise FileNotFoundError(f"{text!r} is neither a seed verifier id ({', '.join(seeds) or 'none found'}) "
                            f"nor an existing .py file")


def docstring_line(source: str) -> str:
    """First line of the module docstring of a verifier source ('' if none or unparsable)."""
    import ast

    try:
        doc = ast.get_docstring(ast.parse(source))
    except SyntaxError:
        return ""
    return doc.strip().splitlines()[0] if doc else ""
