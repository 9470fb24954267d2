"""Loaders of problem sets with checkable answers: GSM8K, MATH-style, MBPP, HumanEval-style, and generic JSONL.

Each turns rows into `Example`s whose task tag and meta route them to the right verifier: math examples
carry the final answer as reference (`math_answer`), code examples carry `tests`, `setup` and
`entry_point` in meta (`code_tests`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rlar_jax.datasets.examples import DataError, Example, RowErrors, chat, collect, require
from rlar_jax.datasets.readers import iter_rows

GSM8K_INSTRUCTION = "Solve the problem step by step. End with a final line of the form '#### <number>'."
MATH_INSTRUCTION = "Solve the problem step by step. Put the final answer in \\boxed{}."
CODE_INSTRUCTION = "Write the Python function in a ```python code block."
HUMANEVAL_INSTRUCTION = ("Complete the following Python function. Reply with the whole function "
                         "(signature and body) in a ```python code block.")

MBPP_SPLITS: dict[str, tuple[int, int]] = {"fewshot": (1, 10), "test": (11, 510), "train": (511, 974)}


def _prompt(text: str, instruction: str | None) -> str:
    return f"{text}\n\n{instruction}" if instruction else text


def gsm8k_final_answer(answer: str, where: str) -> str:
    """The number after the last `####` of a GSM8K rationale (thousands separators removed)."""
    if "####" not in answer:
        raise DataError(f"{where}: field 'answer' has no '#### <final answer>' line")
    return answer.rsplit("####", 1)[1].strip().replace(",", "")


def load_gsm8k(path: str | Path, *, system_prompt: str | None = None, limit: int | None = None,
               instruction: str = GSM8K_INSTRUCTION, task: str = "math",
               errors: RowErrors | None = None) -> list[Example]:
    """GSM8K rows (`question`, `answer` ending in `#### N`) as math examples; reference = final answer."""
    def convert(where: str, row: dict[str, Any]) -> Example:
        question = require(row, "question", where)
        answer = require(row, "answer", where)
        final = gsm8k_final_answer(answer, where)
        return Example(chat(_prompt(question, instruction), system_prompt), final, task, {"rationale": answer},
                       f"gsm8k:{where}")

    return collect(iter_rows(path, config="main", errors=errors), convert, limit=limit, errors=errors)


def load_math(path: str | Path, *, system_prompt: str | None = None, limit: int | None = None,
              instruction: str | None = MATH_INSTRUCTION, task: str = "math", config: str | None = None,
              errors: RowErrors | None = None) -> list[Example]:
    """MATH-style rows (`problem`, `answer`; optional `subject`, `level`) as math examples;
    reference = the final answer."""
    def convert(where: str, row: dict[str, Any]) -> Example:
        problem = require(row, "problem", where)
        answer = require(row, "answer", where, (str, int, float))
        if not str(answer).strip():
            raise DataError(f"{where}: field 'answer' is empty")
        meta = {k: row[k] for k in ("subject", "level") if k in row}
        uid = f"math:{row.get('unique_id') or where}"
        return Example(chat(_prompt(problem, instruction), system_prompt), str(answer).strip(), task, meta, uid)

    return collect(iter_rows(path, config, errors), convert, limit=limit, errors=errors)


def _entry_point(code: str, tests: list[str], where: str) -> str:
    """The function the tests call: one the code defines and the first test calls, else the first call."""
    defined = re.findall(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", code, re.MULTILINE)
    called = re.findall(r"([A-Za-z_]\w*)\s*\(", tests[0])
    for name in called:
        if name in defined:
            return name
    for name in called:
        if name not in ("assert", "set", "list", "tuple", "sorted", "abs", "round", "len", "str", "int", "float",
                        "math", "isclose", "all", "any", "dict", "frozenset"):
            return name
    raise DataError(f"{where}: field 'test_list' does not call a function the code defines")


def load_mbpp(path: str | Path, *, split: str | None = None, system_prompt: str | None = None,
              limit: int | None = None, instruction: str | None = CODE_INSTRUCTION, task: str = "mbpp",
              config: str | None = None, errors: RowErrors | None = None) -> list[Example]:
    """MBPP rows (`text`, `code`, `task_id`, `test_list`, `test_setup_code`) as code examples.

    split: "train" (task ids 511-974), "test" (11-510), "fewshot" (1-10) or None (all rows). The
    prompt shows the first test so the function name is known; meta holds every test, the setup code
    and the entry point; reference = the reference solution.
    """
    if split is not None and split not in MBPP_SPLITS:
        raise ValueError(f"split: expected one of {sorted(MBPP_SPLITS)} or None, got {split!r}")

    def convert(where: str, row: dict[str, Any]) -> Example | None:
        task_id = require(row, "task_id", where, int)
        if split is not None:
            lo, hi = MBPP_SPLITS[split]
            if not lo <= task_id <= hi:
                return None
        text = require(row, "text", where)
        code = require(row, "code", where).replace("\r\n", "\n")
        tests = require(row, "test_list", where, list)
        if not tests or not all(isinstance(t, str) and t.strip() for t in tests):
            raise DataError(f"{where}: field 'test_list' must be a non-empty list of assert strings")
        setup = row.get("test_setup_code") or ""
        if not isinstance(setup, str):
            raise DataError(f"{where}: field 'test_setup_code' must be str, got {type(setup).__name__}")
        prompt = f"{text}\nYour code should pass this test:\n{tests[0]}"
        meta = {"tests": list(tests), "setup": setup.replace("\r\n", "\n"),
                "entry_point": _entry_point(code, tests, where), "task_id": task_id}
        return Example(chat(_prompt(prompt, instruction), system_prompt), code, task, meta, f"mbpp:{task_id}")

    return collect(iter_rows(path, config, errors), convert, limit=limit, errors=errors)


def load_humaneval(path: str | Path, *, system_prompt: str | None = None, limit: int | None = None,
                   instruction: str | None = HUMANEVAL_INSTRUCTION, task: str = "humaneval",
                   config: str | None = None, errors: RowErrors | None = None) -> list[Example]:
    """HumanEval-style rows (`prompt`, `test` defining check(candidate), `entry_point`; optional
    `canonical_solution`, `task_id`) as code examples.

    The function stub is shown in a code block; meta `setup` is the stub itself (its imports and helper
    functions stay available to the answer), `tests` the test program and `entry_point` the function that
    `check` is called with. reference = stub + canonical solution.
    """
    def convert(where: str, row: dict[str, Any]) -> Example:
        stub = require(row, "prompt", where)
        test = require(row, "test", where)
        entry = require(row, "entry_point", where)
        if not entry.isidentifier():
            raise DataError(f"{where}: field 'entry_point' must be a function name, got {entry!r}")
        if "def check" not in test:
            raise DataError(f"{where}: field 'test' must define check(candidate)")
        solution = row.get("canonical_solution") or ""
        if not isinstance(solution, str):
            raise DataError(f"{where}: field 'canonical_solution' must be str, got {type(solution).__name__}")
        prompt = _prompt(f"```python\n{stub.rstrip()}\n```", instruction)
        meta = {"tests": test, "setup": stub, "entry_point": entry}
        uid = f"humaneval:{row.get('task_id') or where}"
        return Example(chat(prompt, system_prompt), stub + solution if solution else "", task, meta, uid)

    return collect(iter_rows(path, config, errors), convert, limit=limit, errors=errors)


_FIELD_KEYS = ("prompt", "messages", "reference", "system")


def check_fields(fields: dict[str, str]) -> None:
    """Reject an unusable jsonl field mapping (ValueError naming the key)."""
    for key, value in fields.items():
        if key not in _FIELD_KEYS and not (key.startswith("meta.") and len(key) > 5):
            raise ValueError(f"fields: unknown key {key!r}; expected {list(_FIELD_KEYS)} or meta.<name>")
        if not isinstance(value, str) or not value:
            raise ValueError(f"fields.{key}: expected a row field name, got {value!r}")
    if not ({"prompt", "messages"} & set(fields)):
        raise ValueError("fields: needs 'prompt' or 'messages' (the row field holding the prompt)")


def _chat_list(value: Any, where: str, field: str) -> tuple[dict[str, str], ...]:
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: field {field!r} must be a non-empty list of {{role, content}} objects")
    for i, m in enumerate(value):
        if not (isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)):
            raise DataError(f"{where}: field {field!r}[{i}] must be an object with string role and content")
    if value[-1]["role"] != "user":
        raise DataError(f"{where}: field {field!r} must end with a user message, got {value[-1]['role']!r}")
    return tuple({"role": m["role"], "content": m["content"]} for m in value)


def load_jsonl(path: str | Path, fields: dict[str, str], *, task: str, system_prompt: str | None = None,
               limit: int | None = None, instruction: str | None = None, config: str | None = None,
               errors: RowErrors | None = None) -> list[Example]:
    """Any JSONL (or hub dataset) through a field mapping: `prompt` (or `messages`), optional `reference`,
    `system`, and `meta.<key>` entries copied into meta. A missing mapped field is a DataError."""
    check_fields(fields)

    def convert(where: str, row: dict[str, Any]) -> Example:
        system = require(row, fields["system"], where) if "system" in fields else system_prompt
        if "messages" in fields:
            messages = _chat_list(require(row, fields["messages"], where, list), where, fields["messages"])
            if system and messages[0]["role"] != "system":
                messages = ({"role": "system", "content": system},) + messages
            if instruction:
                last = dict(messages[-1], content=_prompt(messages[-1]["content"], instruction))
                messages = messages[:-1] + (last,)
        else:
            messages = chat(_prompt(require(row, fields["prompt"], where), instruction), system)
        reference = ""
        if "reference" in fields:
            value = require(row, fields["reference"], where, (str, int, float))
            reference = str(value)
        meta = {k[5:]: require(row, v, where, object) for k, v in fields.items() if k.startswith("meta.")}
        return Example(messages, reference, task, meta, f"{task}:{where}")

    return collect(iter_rows(path, config, errors), convert, limit=limit, errors=errors)
