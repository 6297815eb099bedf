"""libyaml composes a lesson's front matter (lessons.frontmatter._fast_compose) only where the
result is the one FrontMatterLoader gives: the same data, key lines and findings (errors and
warnings with their lines), on the real course and on thousands of mutants of it.

What the engine of record is here: FrontMatterLoader (PyYAML in Python, with the alias limits),
read with `fast=False`. Every case is read both ways and compared whole.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from lessons import frontmatter

COURSE = Path(settings.BASE_DIR) / "content" / "lessons"
# Tokens that mean something to YAML (or to the checks), put in at random places.
TOKENS = [
    ": ", "- ", "&a ", "*a", "<<: *a", "&b [*a, *a] ", "!!str ", "!!binary ", "!!python/name:os ",
    "'", '"', "|", ">-", "{", "}", "[", "]", "# ", "\t", "? ", "%YAML 1.1", "@", "`", "yes",
    "no", "0123", "1:30", "~", "null", ".nan", "2026-12-05", "12:30:00", "\\", "\\x", "\u2028",
    "\u00e9", "…", "0x1F", "1e3", "+.inf", "=", "&", "*", ",", "---", "...", "key: value",
    "\x00", "\x85", "\ufeff", "\x7f", "\x1b", "\r\n", "\r", "\u00a0", "\U0001f600", "\x0c",
    "!local ", "!<tag:yaml.org,2002:str> ", "&x", "*x", "%TAG ! tag:x,2026:\n---\n",
    "? [a, b]\n: c", "'it''s'", '"\\u00e9"', '"\\N"', "-1_000", "0b101", "0o17", "Y", "On", "OFF",
]  # fmt: skip


def course_front_matters() -> list[tuple[str, frontmatter.Split]]:
    found = []
    for path in sorted(COURSE.rglob("index.md")):
        found.append((path.parent.name, frontmatter.split(path.read_text(encoding="utf-8"))))
    assert len(found) >= 10
    return found


def outcome(yaml_text: str, *, fast: bool) -> tuple[Any, ...]:
    """What read() gives, compared whole; or the error it raises (a character PyYAML's reader
    refuses raises, as it did before the fast path: the catalog refuses those characters first)."""
    try:
        read = frontmatter.read(yaml_text, 2, fast=fast)
    except Exception as error:  # noqa: BLE001 - the same error either way is the point
        return (type(error).__name__, str(error))
    # repr: NaN is not equal to itself, and an alias to its own parent is a loop.
    return (repr(read.data), read.key_lines, read.findings)


def assert_same(yaml_text: str, where: str) -> None:
    assert outcome(yaml_text, fast=True) == outcome(yaml_text, fast=False), where


def test_libyaml_composes_every_course_lesson_and_reads_it_as_the_loader_does() -> None:
    for name, parts in course_front_matters():
        assert frontmatter._fast_compose(parts.yaml_text) is not None, name
        fast = frontmatter.read(parts.yaml_text, parts.yaml_line)
        reference = frontmatter.read(parts.yaml_text, parts.yaml_line, fast=False)
        assert fast.usable and fast.data["slug"], name
        assert fast.data == reference.data, name
        assert fast.key_lines == reference.key_lines, name
        assert fast.findings == reference.findings, name


def mutate(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(lines))
        kind = rng.randrange(6)
        if kind == 0 and len(lines) > 1:
            del lines[at]
        elif kind == 1:
            lines.insert(at, lines[at])
        elif kind == 2:
            other = rng.randrange(len(lines))
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == 3:
            lines[at] = " " * rng.randint(1, 3) + lines[at]
        elif kind == 4:
            lines[at] = lines[at][rng.randint(1, 3) :]
        else:
            column = rng.randint(0, len(lines[at]))
            token = rng.choice(TOKENS)
            lines[at] = lines[at][:column] + token + lines[at][column:]
    return "\n".join(lines)


def window(lines: list[str], rng: random.Random) -> str:
    """Up to 30 lines from a key or list item on, as far as it goes, moved to the left margin:
    a piece of front matter that is YAML on its own (before it is mutated)."""
    starts = [n for n, line in enumerate(lines) if line.strip() and not line.startswith(" " * 8)]
    start = rng.choice(starts)
    indent = len(lines[start]) - len(lines[start].lstrip(" "))
    piece = [lines[start][indent:]]
    for line in lines[start + 1 : start + rng.randint(3, 30)]:
        if line.strip() and not line.startswith(" " * indent + " "):
            break
        piece.append(line[indent:])
    if piece[0].startswith("- "):
        piece.insert(0, "clave:")  # a list item: the value of a key, as front matter is a mapping
    return "\n".join(piece)


def test_mutants_of_the_course_read_the_same_either_way() -> None:
    """Windows of 3 to 30 lines of every lesson's front matter, mutated: the fast path is taken
    for most, refused for some (errors, aliases), and the result is the loader's every time."""
    rng = random.Random(20261205)  # noqa: S311 - a fixed seed, the same mutants every run
    texts = [parts.yaml_text.split("\n") for _name, parts in course_front_matters()]
    taken = refused = 0
    for case in range(1500):
        mutant = mutate(window(rng.choice(texts), rng), rng)
        if frontmatter._fast_compose(mutant) is None:
            refused += 1
        else:
            taken += 1
        assert_same(mutant, f"mutant {case}: {mutant!r}")
    # Both sides of the choice were exercised, the fast one most.
    assert taken > 400 and refused > 400, (taken, refused)


@pytest.mark.parametrize(
    ("text", "fast"),
    [
        # Aliases and merge keys within the limits: libyaml's tree is used.
        ("base: &b {nivel: básico}\notra:\n  <<: *b\n  duracion: 5\n", True),
        ("x: &x 1\ny: [" + ", ".join(["*x"] * frontmatter.MAX_ALIASES) + "]\n", True),
        # One alias more than the limit, a bomb, an alias inside itself: the loader says why.
        ("x: &x 1\ny: [" + ", ".join(["*x"] * (frontmatter.MAX_ALIASES + 1)) + "]\n", False),
        (
            "\n".join(
                ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
                + [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 6)]
            ),
            False,
        ),
        ("a: &a [1, *a]\n", False),
        # Nesting: a real depth is libyaml's, a deep one the loader's (which may refuse it).
        ("a:\n" + "".join("  " * n + f"k{n}:\n" for n in range(1, 10)) + "  " * 10 + "v: 1", True),
        ("a: " + "[" * (DEEP := frontmatter.FAST_MAX_DEPTH + 5) + "]" * DEEP, False),
        ("a: " + "[" * 400 + "]" * 400, False),
        # Plain scalars keep their traps (style None, as the loader gives them).
        ("nivel: no\norden: 0123\nduracion: 1:30\notra: 'no'\n", True),
        # Where libyaml reads on and PyYAML stops (found by mutants): the loader's error.
        ("a: |# nota\n  x\n", False),
        ("a: x\tb\n", False),
        ("a: x\nb: y\ufeff\n", False),
        # Errors: the loader's message and line.
        ("titulo: x\n  mal: sangría\n", False),
        ("a: 1\na: 2\n", True),  # composed fine; the duplicate is found after composing
        ("", False),
        ("- solo\n- una lista\n", False),
        ("---", False),
        ("x: !!python/object/apply:os.system ['true']\n", True),
    ],
)  # fmt: skip
def test_chosen_cases(text: str, fast: bool) -> None:
    assert (frontmatter._fast_compose(text) is not None) is fast
    assert_same(text, repr(text[:80]))
    reference = frontmatter.read(text, 2, fast=False)
    if "*x]" in text and not fast:
        assert any("demasiados alias" in f.message for f in reference.findings)
    if "nivel: no" in text:
        assert len([f for f in reference.findings if f.level == "aviso"]) >= 1
