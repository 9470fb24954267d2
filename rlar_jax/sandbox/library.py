"""Verifier sources: identity (sha256) and the seed library in the repository's `verifiers/`."""

from __future__ import annotations

import hashlib
from pathlib import Path

SEED_DIR = Path(__file__).resolve().parents[2] / "verifiers"


def source_sha256(source: str) -> str:
    """The identity of a verifier: sha256 of its UTF-8 source text (hex)."""
    if not isinstance(source, str):
        raise TypeError(f"verifier source must be a str, got {type(source).__name__}")
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def seed_verifiers() -> dict[str, Path]:
    """Seed verifier id (file stem) -> source file, from the repository's `verifiers/` directory."""
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
