"""A fuzz of the course's own lessons: each mutant (a line deleted, doubled or cut, a value of the
wrong shape, an invisible character, a header fence broken, bytes of another encoding…) must
come out of check_lessons as problems with their file and a line of that file, never a crash;
and every page must still answer, never a 500 (docs/lessons.md: a broken lesson never takes the
others down). A review's fuzzer found nine ways through on 2026-12-06; its kinds of mutation
are here. Seeded: MUELLE_FUZZ_SEED picks another run, MUELLE_FUZZ_CASES how many."""

from __future__ import annotations

import os
import random
import re
import shutil
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from lessons import catalog

COURSE = Path(__file__).resolve().parents[2] / "content" / "lessons"
# Lesson 01 is linked to by lesson 02, and lesson 02 has exercises: a broken one touches both.
LESSONS = ("01-que-es-docker", "02-tu-primer-contenedor")
SEED = int(os.environ.get("MUELLE_FUZZ_SEED", "20261206"))
CASES = int(os.environ.get("MUELLE_FUZZ_CASES", "36"))
ODD = ["\x00", "\x0c", "\x7f", "\u2028", "\u0085", "\ud800", "\ufeff", "\u202e", "\t", "\r"]
SHAPES = ["[a, b]", "{a: b}", "", "~", "- x", "1e9999", "'", '"\\ud800"', "!!binary AAAA"]


def _mutate(text: str, rng: random.Random) -> str | bytes:
    lines = text.split("\n")
    where = rng.randrange(len(lines))
    kind = rng.randrange(9)
    if kind == 0:
        del lines[where]
    elif kind == 1:
        lines.insert(where, lines[where])
    elif kind == 2:
        line = lines[where]
        cut = rng.randrange(len(line) + 1)
        lines[where] = line[:cut] + rng.choice(ODD) + line[cut:]
    elif kind == 3:  # a value of another shape, in the header or the exercises
        header = [i for i, line in enumerate(lines[:120]) if re.match(r"^\s*[\w-]+:\s*\S", line)]
        if header:
            i = rng.choice(header)
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {rng.choice(SHAPES)}"
    elif kind == 4:
        fences = [i for i, line in enumerate(lines) if line.strip() == "---"]
        if fences:
            lines[rng.choice(fences)] = rng.choice(["---x", "--", "", "...", "--- ---"])
    elif kind == 5:  # a link of the body made odd
        links = [i for i, line in enumerate(lines) if "](" in line]
        if links:
            i = rng.choice(links)
            odd = rng.choice(["%0A", "%00", "../", "/lecciones/~x/", "#", "../../x.md", " "])
            lines[i] = lines[i].replace("](", "](" + odd, 1)
    elif kind == 6:
        return "\n".join(lines[: rng.randrange(len(lines))])
    elif kind == 7:
        return "\n".join(lines).encode(rng.choice(["utf-16", "latin-1", "utf-32"]), "replace")
    else:
        lines.insert(where, rng.choice(["- " * 400 + "x", "> " * 300 + "x", "[" * 300]))
    return "\n".join(lines)


@pytest.fixture
def course(tmp_path: Path, settings: Any) -> Path:
    root = tmp_path / "lecciones"
    root.mkdir()
    for name in LESSONS:
        shutil.copytree(COURSE / name, root / name)
    settings.LESSONS_DIR = root
    settings.GLOSSARY_FILE = str(tmp_path / "sin-glosario.yaml")
    return root


def _problems(root: Path) -> list[tuple[str, int]]:
    out = StringIO()
    try:
        call_command("check_lessons", str(root), stdout=out)
    except CommandError:
        pass  # errors found: exit code 1, the lines are in `out`
    found = []
    for line in out.getvalue().splitlines():
        match = re.match(r"^(.+?):(\d+): (?:error|aviso): ", line)
        if match:
            found.append((match[1], int(match[2])))
    return found


def test_mutated_lessons_are_problems_at_a_line_and_never_a_500(course: Path) -> None:
    rng = random.Random(SEED)  # noqa: S311 - a reproducible fuzz, not a secret
    pristine = {name: (course / name / "index.md").read_text(encoding="utf-8") for name in LESSONS}
    client = Client()
    for case in range(CASES):
        name = rng.choice(LESSONS)
        path = course / name / "index.md"
        mutant = _mutate(pristine[name], rng)
        if isinstance(mutant, bytes):
            path.write_bytes(mutant)
        else:
            path.write_bytes(mutant.encode("utf-8", "surrogatepass"))
        catalog.clear_caches()
        where = f"case {case} (seed {SEED}): {name}"
        # A crash of check_lessons fails the test with its traceback.
        problems = _problems(course)
        size = path.read_bytes().count(b"\n") + 1
        for shown, line in problems:
            if shown.endswith(f"{name}/index.md"):
                assert 1 <= line <= size, (where, shown, line, size)
        pages = [
            "/",
            "/glosario/",
            *(f"/lecciones/{s}/" for s in ("que-es-docker", "tu-primer-contenedor")),
        ]
        for page in pages:
            status = client.get(page).status_code
            assert status in (200, 404, 503), (where, page, status)
        path.write_text(pristine[name], encoding="utf-8")
