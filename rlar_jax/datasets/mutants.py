"""Single-point mutants of a Python program (operators and constants), for code reward benchmarks.

Mutation works on the syntax tree only: nothing here runs the program. Whether a mutant really fails
its tests is decided by running the tests in the sandbox (see `rlar_jax.datasets.suite`).
"""

from __future__ import annotations

import ast
import copy
import random
from collections.abc import Callable

_BINOP_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.Add, ast.FloorDiv), ast.Div: (ast.Mult,),
    ast.FloorDiv: (ast.Mult, ast.Mod), ast.Mod: (ast.FloorDiv,), ast.Pow: (ast.Mult,),
    ast.BitAnd: (ast.BitOr,), ast.BitOr: (ast.BitAnd,), ast.LShift: (ast.RShift,), ast.RShift: (ast.LShift,),
}
_CMP_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt,), ast.Gt: (ast.GtE, ast.Lt), ast.GtE: (ast.Gt,),
    ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
}

Mutation = Callable[[ast.AST], None]


def _sites(tree: ast.AST) -> list[tuple[int, str, Mutation]]:
    """(node index in ast.walk order, description, in-place mutation of that node)."""
    out: list[tuple[int, str, Mutation]] = []
    for idx, node in enumerate(ast.walk(tree)):
        if isinstance(node, (ast.BinOp, ast.AugAssign)):
            for new in _BINOP_SWAPS.get(type(node.op), ()):
                out.append((idx, f"{type(node.op).__name__}->{new.__name__}",
                            lambda n, new=new: setattr(n, "op", new())))
        elif isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                for new in _CMP_SWAPS.get(type(op), ()):
                    def swap(n: ast.AST, k: int = k, new: type = new) -> None:
                        n.ops[k] = new()
                    out.append((idx, f"{type(op).__name__}->{new.__name__}", swap))
        elif isinstance(node, ast.BoolOp):
            new = ast.Or if isinstance(node.op, ast.And) else ast.And
            out.append((idx, f"{type(node.op).__name__}->{new.__name__}", lambda n, new=new: setattr(n, "op", new())))
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            out.append((idx, f"{node.value}->{not node.value}", lambda n: setattr(n, "value", not n.value)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            for delta in (1, -1):
                out.append((idx, f"{node.value}->{node.value + delta}",
                            lambda n, d=delta: setattr(n, "value", n.value + d)))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append((idx, "drop not", lambda n: setattr(n, "op", ast.UAdd())))
    return out


def normalise(code: str) -> str:
    """The program as `ast.unparse` prints it (mutants are printed the same way, so style gives nothing away).

    Raises SyntaxError when the code does not parse.
    """
    return ast.unparse(ast.parse(code))


def mutants(code: str, limit: int = 12, seed: int = 0) -> list[str]:
    """Up to `limit` distinct single-point mutants of `code` (seeded order), each as unparsed source."""
    tree = ast.parse(code)
    original = ast.unparse(tree)
    sites = _sites(tree)
    random.Random(seed).shuffle(sites)
    out: list[str] = []
    for idx, _, mutate in sites:
        clone = copy.deepcopy(tree)
        node = next(n for i, n in enumerate(ast.walk(clone)) if i == idx)
        mutate(node)
        try:
            text = ast.unparse(ast.fix_missing_locations(clone))
        except (ValueError, TypeError):  # e.g. a negative constant that unparse cannot place
            continue
        if text != original and text not in out:
            out.append(text)
        if len(out) >= limit:
            break
    return out
