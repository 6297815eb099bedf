"""Finds assertions on wall-clock time in test code, read with `ast`.

A duration is a subtraction of two readings, one of them the clock (`time.monotonic()`,
`perf_counter()`, `time.time()`, their `_ns` forms, an event loop's `.time()`), or a name
assigned from one (`time.time() - 5` is a moment, not a duration). An
`assert` whose condition uses a duration checks how fast something ran, which a slower machine
fails for no reason. A deadline compared with the clock (`assert time.monotonic() < deadline`,
`asyncio.wait_for(..., 120)`) is a watchdog for something that never happens, and is allowed.
"""

from __future__ import annotations

import ast

CLOCK_FUNCTIONS = {
    "monotonic",
    "monotonic_ns",
    "perf_counter",
    "perf_counter_ns",
    "time",
    "time_ns",
}


def _is_clock(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or node.args or node.keywords:
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Name) and func.value.id == "time":
            return func.attr in CLOCK_FUNCTIONS
        return func.attr == "time"  # loop.time(), asyncio.get_running_loop().time()
    return isinstance(func, ast.Name) and func.id in {"monotonic", "perf_counter"}


def _has_clock(node: ast.AST) -> bool:
    return any(_is_clock(child) for child in ast.walk(node))


def _is_duration(node: ast.AST, durations: set[str]) -> bool:
    for child in ast.walk(node):
        if isinstance(child, ast.BinOp) and isinstance(child.op, ast.Sub) and _has_clock(child):
            # `time.time() - 5` is a moment (five seconds ago), not how long something took.
            if not isinstance(child.right, ast.Constant) and not isinstance(
                child.left, ast.Constant
            ):
                return True
        if isinstance(child, ast.Name) and child.id in durations:
            return True
    return False


def _pairs(target: ast.AST, value: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
        if len(target.elts) == len(value.elts):
            return [
                pair for t, v in zip(target.elts, value.elts, strict=True) for pair in _pairs(t, v)
            ]
    return [(target, value)]


def _durations(scope: ast.AST) -> set[str]:
    """Names assigned a duration anywhere in `scope` (to a fixed point: durations of durations)."""
    found: set[str] = set()
    while True:
        before = len(found)
        for node in ast.walk(scope):
            pairs: list[tuple[ast.AST, ast.AST]] = []
            if isinstance(node, ast.Assign):
                pairs = [pair for target in node.targets for pair in _pairs(target, node.value)]
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
                pairs = [(node.target, node.value)]
            elif isinstance(node, ast.NamedExpr):
                pairs = [(node.target, node.value)]
            for target, value in pairs:
                if isinstance(target, ast.Name) and _is_duration(value, found):
                    found.add(target.id)
        if len(found) == before:
            return found


def wall_clock_assertions(source: str) -> list[int]:
    """Line numbers of the asserts in `source` whose condition uses a duration."""
    tree = ast.parse(source)
    lines: set[int] = set()
    scopes = [
        tree,
        *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)),
    ]
    for scope in scopes:
        durations = _durations(scope)
        for node in ast.walk(scope):
            if isinstance(node, ast.Assert) and _is_duration(node.test, durations):
                lines.add(node.lineno)
    return sorted(lines)
