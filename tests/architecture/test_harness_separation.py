"""bench/ and tests/ share harness/ and nothing else: a bench never imports a test module, a test
never imports a bench, and the harness imports neither (every import counted, inside functions
too)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Folder -> top-level packages it must not import.
FORBIDDEN = {"bench": {"tests"}, "tests": {"bench"}, "harness": {"tests", "bench"}}


def _imported(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_bench_tests_and_harness_import_only_downwards() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} importa {name}"
        for folder, banned in FORBIDDEN.items()
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, name in _imported(path)
        if name.split(".", 1)[0] in banned
    ]
    assert wrong == []


def test_bench_finds_the_harness() -> None:
    # The rule above is only worth something if the benches really use the shared harness.
    users = [
        path.name
        for path in (ROOT / "bench").glob("*.py")
        if any(name.split(".", 1)[0] == "harness" for _, name in _imported(path))
    ]
    assert users
