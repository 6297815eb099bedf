"""docs/configuration.md has one row for every variable tutorial/settings.py reads, and no row for
a variable it does not read: a deployer finds each setting there, with its default and unit."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "tutorial" / "settings.py"
TABLE = ROOT / "docs" / "configuration.md"

# A table row whose first cell is one `NAME` in backticks.
ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", re.MULTILINE)


def variables_read_by_settings() -> set[str]:
    """First argument of every env_* helper call (env_int, env_size, ...) in settings.py."""
    names = set()
    for node in ast.walk(ast.parse(SETTINGS.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id.startswith("env_")
        ):
            first = node.args[0]
            # A computed name would hide a variable from this test (and from the deployer).
            assert isinstance(first, ast.Constant), ast.unparse(node)
            assert isinstance(first.value, str), ast.unparse(node)
            names.add(first.value)
    return names


def variables_in_the_table() -> list[str]:
    return ROW.findall(TABLE.read_text())


def test_the_settings_read_variables_at_all() -> None:
    # Guards the AST walk itself: if it found nothing, the comparison below would prove nothing.
    names = variables_read_by_settings()
    assert {"SECRET_KEY", "SANDBOX_MEMORY", "DOCKER_GATEWAY_BUILD_MEMORY"} <= names
    assert len(names) > 80


def test_every_variable_read_by_the_settings_is_in_the_table() -> None:
    missing = variables_read_by_settings() - set(variables_in_the_table())
    assert not missing, f"add to docs/configuration.md: {sorted(missing)}"


def test_the_table_names_no_variable_the_settings_do_not_read() -> None:
    stale = set(variables_in_the_table()) - variables_read_by_settings()
    assert not stale, f"docs/configuration.md documents unread variables: {sorted(stale)}"


def test_each_variable_has_one_row() -> None:
    rows = variables_in_the_table()
    assert len(rows) == len(set(rows)), sorted({n for n in rows if rows.count(n) > 1})


def literal_defaults() -> dict[str, str]:
    """The default of each env_* call written as a literal, as the table should show it."""
    shown = {}
    for node in ast.walk(ast.parse(SETTINGS.read_text())):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id.startswith("env_")
            and len(node.args) > 1
        ):
            continue
        name, default = node.args[0].value, node.args[1]  # type: ignore[attr-defined]
        try:
            value = ast.literal_eval(default)
        except ValueError:
            continue  # computed from another setting: the table says how, in words
        if isinstance(value, bool):
            shown[name] = "`1`" if value else "`0`"
        elif isinstance(value, list):
            shown[name] = "`" + ",".join(value) + "`" if value else "vacío"
        elif value == "":
            shown[name] = "vacío"
        elif isinstance(value, float):
            shown[name] = f"`{value:g}`"  # 30.0 reads as 30
        else:
            shown[name] = f"`{value}`"
    return shown


def test_the_table_shows_each_literal_default_as_written_in_the_settings() -> None:
    cells = dict(
        re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*([^|]*?)\s*\|", TABLE.read_text(), re.M)
    )
    defaults = literal_defaults()
    assert len(defaults) > 60  # the walk found them
    wrong = {
        name: (shown, cells.get(name))
        for name, shown in defaults.items()
        if not (cells.get(name) or "").startswith(shown)
    }
    assert not wrong, f"docs/configuration.md shows another default: {wrong}"
