"""Turn an existing document (often with mojibake) into a lesson file with front matter.

Used by `manage.py import_lesson`. Every change to the author's text is reported as a Note with
the source line, so the instructor can review it: mojibake repairs (lessons.mojibake), a removed
byte-order mark, a blank line added so a heading is not swallowed by the quote above it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.utils.translation import gettext as _

from lessons import frontmatter, mojibake

_HEADING = re.compile(r"^[ ]{0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$")
_QUOTE = re.compile(r"^[ ]{0,3}>")
_FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,})")
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
WORDS_PER_MINUTE = 120  # reading in a second language while trying commands: slower than usual


class ImportFailed(ValueError):
    """The document cannot become a lesson; the message is Spanish."""


@dataclass(frozen=True)
class Note:
    line: int  # line in the source document
    message: str  # Spanish


@dataclass
class Imported:
    text: str
    front_matter: dict[str, Any]
    notes: list[Note] = field(default_factory=list)
    repairs: tuple[mojibake.Repair, ...] = ()


def _plain(text: str) -> str:
    """Heading or paragraph text without markdown marks or leading emoji."""
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = re.sub(r"[*_`]+", "", text).strip()
    while text and not (
        unicodedata.category(text[0]).startswith(("L", "N")) or text[0] in "¿¡\"'«("
    ):
        text = text[1:].lstrip()
    return text


def _headings(body: str) -> list[tuple[int, str]]:
    found = []
    in_fence = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = _HEADING.match(line)
        if match and not in_fence:
            found.append((len(match.group(1)), _plain(match.group(2))))
    return found


def _first_paragraph(body: str) -> str:
    for block in re.split(r"\n\s*\n", body):
        block = block.strip()
        if not block or block.startswith(("#", "```", "~~~", "|", "!", "<")):
            continue
        text = _plain(" ".join(line.lstrip("> ").strip() for line in block.split("\n")))
        if text:
            if len(text) > 200:
                text = text[:197].rsplit(" ", 1)[0] + "…"
            return text
    return ""


def _separate_headings_from_quotes(text: str) -> tuple[str, list[Note]]:
    """Markdown lets a quote swallow the heading right below it; CommonMark does not."""
    lines = text.split("\n")
    out: list[str] = []
    notes: list[Note] = []
    in_fence = False
    for number, line in enumerate(lines, start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and out and _QUOTE.match(out[-1]) and _HEADING.match(line):
            out.append("")
            notes.append(
                Note(
                    number,
                    _(
                        "se añade una línea en blanco antes del título para que no quede dentro "
                        "de la cita anterior"
                    ),
                )
            )
        out.append(line)
    return "\n".join(out), notes


def estimate_duration(body: str) -> int:
    words = len(re.findall(r"\w+", body))
    return max(5, int(math.ceil(words / WORDS_PER_MINUTE / 5.0)) * 5)


def import_document(
    raw: bytes,
    *,
    slug: str,
    order: int,
    title: str | None = None,
    summary: str | None = None,
    level: str = "básico",
    duration: int | None = None,
    objectives: list[str] | None = None,
    encoding: str = "utf-8",
) -> Imported:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ImportFailed(
            _("línea %(line)d: el documento no es %(encoding)s válido; prueba con --encoding")
            % {"line": line, "encoding": encoding}
        ) from None
    except LookupError:
        raise ImportFailed(
            _("no conozco la codificación «%(encoding)s»") % {"encoding": encoding}
        ) from None

    notes: list[Note] = []
    if text.startswith("\ufeff"):
        text = text[1:]
        notes.append(Note(1, _("se quita la marca de orden de bytes (BOM) del principio")))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.lstrip("\n").startswith(frontmatter.DELIMITER + "\n"):
        raise ImportFailed(
            _(
                "el documento ya tiene una cabecera YAML («---»): edítalo a mano y compruébalo con "
                "manage.py check_lessons"
            )
        )

    repaired = mojibake.repair(text)
    for repair in repaired.repairs:
        notes.append(
            Note(
                repair.line,
                _("reparado «%(before)s» → «%(after)s» (UTF-8 leído como %(encoding)s)")
                % {
                    "before": repair.shown_before,
                    "after": repair.after,
                    "encoding": repair.encoding,
                },
            )
        )
    body, layout_notes = _separate_headings_from_quotes(repaired.text)
    notes.extend(layout_notes)
    body = body.strip("\n") + "\n"

    headings = _headings(body)
    data: dict[str, Any] = {
        "titulo": title or (headings[0][1] if headings else slug.replace("-", " ").capitalize()),
        "slug": slug,
        "orden": order,
        "resumen": summary or _first_paragraph(body) or _("Pendiente: escribe un resumen."),
        "nivel": level,
        "duracion": duration or estimate_duration(body),
        "objetivos": objectives
        or [text for depth, text in headings if depth == 2][:5]
        or [_("Pendiente: escribe los objetivos.")],
    }
    yaml_text = yaml.safe_dump(
        data, allow_unicode=True, sort_keys=False, width=1000, default_flow_style=False
    )
    checked = frontmatter.read(yaml_text, 2)
    errors = [f for f in checked.findings if f.level == "error"]
    if errors:
        raise ImportFailed(
            "; ".join(
                _("línea %(line)d de la cabecera: %(message)s")
                % {"line": f.line, "message": f.message}
                for f in errors
            )
        )
    lesson = f"{frontmatter.DELIMITER}\n{yaml_text}{frontmatter.DELIMITER}\n\n{body}"
    notes.sort(key=lambda note: note.line)
    return Imported(text=lesson, front_matter=data, notes=notes, repairs=repaired.repairs)
