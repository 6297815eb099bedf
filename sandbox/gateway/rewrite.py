"""Shaping the engine's answers for a student: hide Muelle's labels, filter, match names.

Prefixes are removed from every answer by Namespace.strip_bytes; here is what needs structure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils.translation import gettext as _

from .errors import bad_request
from .names import is_reserved_label

_SIMPLE_PATTERN = re.compile(r"^\^?[A-Za-z0-9_.-]*\$?$")


def hide_labels(labels: dict[str, str] | None) -> dict[str, str] | None:
    if not labels:
        return labels
    return {k: v for k, v in labels.items() if not is_reserved_label(k)}


def hide_in(obj: dict[str, Any], *path: str) -> None:
    """Hides Muelle's labels at obj[path...] (e.g. "Config", "Labels") if present."""
    for key in path[:-1]:
        obj = obj.get(key) or {}
        if not isinstance(obj, dict):
            return
    if isinstance(obj.get(path[-1]), dict):
        obj[path[-1]] = hide_labels(obj[path[-1]])


def name_matcher(patterns: list[str]) -> re.Pattern[str] | None:
    """The engine matches `name` filters as regular expressions; the gateway matches them itself
    on the student's own names (the engine would see prefixed ones), so only simple patterns
    (letters, digits, _ . -, optionally anchored) are accepted: no backtracking to exploit."""
    if not patterns:
        return None
    for pattern in patterns:
        if len(pattern) > 100 or not _SIMPLE_PATTERN.match(pattern):
            raise bad_request(
                _(
                    "Filtro de nombre no admitido: «%(p)s». Usa letras, números, _ . - y, si "
                    "quieres, ^ al principio o $ al final."
                )
                % {"p": pattern}
            )
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def strip_event_line(line: bytes) -> bytes:
    """One event (or stats/build JSON line): Muelle's labels hidden from the actor attributes."""
    try:
        event = json.loads(line)
    except ValueError:
        return line
    if isinstance(event, dict):
        actor = event.get("Actor")
        if isinstance(actor, dict) and isinstance(actor.get("Attributes"), dict):
            actor["Attributes"] = hide_labels(actor["Attributes"])
        return json.dumps(event, ensure_ascii=False).encode()
    return line
