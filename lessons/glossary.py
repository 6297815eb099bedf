"""The course glossary: each Spanish term, Docker's own name for it, and a plain definition.

Written by instructors in `content/glosario.yaml` (GLOSSARY_FILE), read again when the file
changes. Each entry may name the lesson that explains the term: that lesson lists the term
under «Términos de esta lección», linking to the glossary. check_lessons reports every problem of
the file with its line.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml
from django.conf import settings
from django.utils.translation import gettext as _
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from lessons.frontmatter import lone_surrogate, unreadable_character
from lessons.problems import Problem, error
from lessons.regular_files import read_regular

KEYS = {"termino", "docker", "definicion", "leccion"}
# Read again on every change, on every web process: a file past this (the course's is 10 KB)
# is refused with its reason, as a lesson past its own bound is, instead of being parsed.
MAX_GLOSSARY_BYTES = 256 * 1024
REQUIRED = ("termino", "docker", "definicion")


@dataclass(frozen=True)
class Term:
    term: str  # Spanish, as the course uses it
    docker: str  # Docker's own name (English), as commands and docs say it
    definition: str
    lesson: str | None  # slug of the lesson that explains it
    anchor: str
    line: int


@dataclass(frozen=True)
class Glossary:
    terms: tuple[Term, ...]
    problems: tuple[Problem, ...]
    version: str

    def for_lesson(self, slug: str | None) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if slug and t.lesson == slug)


def anchor(term: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", term).encode("ascii", "ignore").decode()
    return "termino-" + re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _scalar(node: MappingNode, key: str) -> tuple[str | None, int]:
    for key_node, value in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            if isinstance(value, ScalarNode):
                return value.value.strip(), value.start_mark.line + 1
            return None, value.start_mark.line + 1
    return None, node.start_mark.line + 1


def read(path: Path) -> Glossary:
    try:
        data, stat = read_regular(path, MAX_GLOSSARY_BYTES + 1)  # one over: «too big» is told
    except FileNotFoundError:
        return Glossary((), (), "none")
    except OSError as exc:
        return Glossary(
            (), (error(path, 1, _("no se puede leer el glosario: %(e)s") % {"e": exc}),), "x"
        )
    version = f"{stat.st_mtime_ns}-{stat.st_size}"
    # Before decoding: the read stops one byte past the bound, maybe inside a letter.
    if len(data) > MAX_GLOSSARY_BYTES:
        message = _("el glosario pasa de %(max)s KiB: acórtalo") % {
            "max": MAX_GLOSSARY_BYTES // 1024
        }
        return Glossary((), (error(path, 1, message),), version)
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Glossary(
            (), (error(path, 1, _("no se puede leer el glosario: %(e)s") % {"e": exc}),), version
        )
    problems: list[Problem] = []
    unreadable = unreadable_character(raw, 1, _("el glosario"))
    if unreadable is not None:
        return Glossary((), (error(path, *unreadable),), version)
    try:
        root = yaml.compose(raw, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return Glossary(
            (), (error(path, line, _("el glosario no es YAML válido en esta línea")),), version
        )
    except yaml.YAMLError:
        return Glossary((), (error(path, 1, _("el glosario no es YAML válido")),), version)
    except RecursionError:
        return Glossary(
            (), (error(path, 1, _("el glosario está anidado a demasiada profundidad")),), version
        )
    surrogate = lone_surrogate(root, 1)
    if surrogate is not None:
        return Glossary((), (error(path, *surrogate),), version)
    if not isinstance(root, SequenceNode):
        return Glossary(
            (), (error(path, 1, _("el glosario debe ser una lista de términos")),), version
        )
    terms: list[Term] = []
    seen: dict[str, int] = {}
    for item in root.value:
        line = item.start_mark.line + 1
        if not isinstance(item, MappingNode):
            problems.append(
                error(
                    path, line, _("cada término es un mapa con «termino», «docker» y «definicion»")
                )
            )
            continue
        keys = {k.value for k, _v in item.value if isinstance(k, ScalarNode)}
        for unknown in sorted(keys - KEYS):
            problems.append(
                error(
                    path,
                    line,
                    _("clave desconocida «%(key)s» (se admiten: %(keys)s)")
                    % {"key": unknown, "keys": ", ".join(sorted(KEYS))},
                )
            )
        values = {key: _scalar(item, key) for key in KEYS}
        missing = [key for key in REQUIRED if not values[key][0]]
        for key in missing:
            problems.append(error(path, line, _("falta «%(key)s» o está vacía") % {"key": key}))
        if missing:
            continue
        term = values["termino"][0] or ""
        if term.lower() in seen:
            problems.append(
                error(
                    path,
                    line,
                    _("el término «%(term)s» ya está en la línea %(line)d")
                    % {"term": term, "line": seen[term.lower()]},
                )
            )
            continue
        seen[term.lower()] = line
        lesson, lesson_line = values["leccion"]
        terms.append(
            Term(
                term,
                values["docker"][0] or "",
                values["definicion"][0] or "",
                lesson or None,
                anchor(term),
                lesson_line if lesson else line,
            )
        )
    terms.sort(key=lambda t: unicodedata.normalize("NFKD", t.term.lower()))
    return Glossary(tuple(terms), tuple(problems), version)


def lesson_problems(glossary: Glossary, slugs: set[str], path: Path) -> list[Problem]:
    """Entries that name a lesson the course does not have."""
    return [
        error(
            path,
            term.line,
            _("«%(term)s» nombra la lección «%(slug)s», que no existe")
            % {"term": term.term, "slug": term.lesson},
        )
        for term in glossary.terms
        if term.lesson and term.lesson not in slugs
    ]


_cache: dict[Path, Glossary] = {}
_lock = threading.Lock()


def path() -> Path:
    """GLOSSARY_FILE, or `glosario.yaml` beside the lessons folder: a course carries its own."""
    if settings.GLOSSARY_FILE:
        return Path(settings.GLOSSARY_FILE)
    return Path(settings.LESSONS_DIR).parent / "glosario.yaml"


def get_glossary() -> Glossary:
    path_ = path()
    try:
        stat = path_.stat()
        version = f"{stat.st_mtime_ns}-{stat.st_size}"
    except OSError:
        version = "none"
    with _lock:
        hit = _cache.get(path_)
    if hit is not None and hit.version == version:
        return hit
    glossary = read(path_)
    with _lock:
        _cache[path_] = glossary
    return glossary
