"""The tests check what they mean to: no ``assert a, b and c`` or ``assert a, b == c``, where the
condition after the comma is only the failure message and is never checked (test_flow.py had one)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_condition_hides_in_an_assertions_message():
    hidden = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            message = node.msg if isinstance(node, ast.Assert) else None
            if isinstance(message, ast.Compare) or isinstance(message, ast.BoolOp) and isinstance(message.op, ast.And):
                hidden.append(f"{path.relative_to(TESTS)}:{node.lineno}: {ast.unparse(node)[:100]}")
    assert hidden == []
