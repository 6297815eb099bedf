"""The terminal's JSON control messages from the page (docs/terminal-protocol.md), read with
hard bounds: anything from the socket is hostile.

Only two shapes exist, both flat objects of scalars: `{"type": "resize", "rows": R, "cols": C}`
and `{"type": "ping", "t": <number, string or null>}`. A frame is refused before json.loads
when it is over MAX_BYTES or nests at all (json.loads recurses on `[[[...`: 1,000 of them raised
RecursionError inside the consumer), and after it when the object is not one of the two shapes.
NaN and Infinity are refused: echoed back they made a pong that is not valid JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

# Far above the real messages (under 80 bytes), far below anything that costs to parse.
MAX_BYTES = 1024
MAX_STAMP_CHARS = 64
MIN_SIZE, MAX_SIZE = 1, 500


@dataclass(frozen=True)
class Control:
    kind: str  # "resize" | "ping"
    size: tuple[int, int] | None = None  # resize: (rows, cols); None when out of range
    stamp: Any = None  # ping: echoed in the pong


class _Refused(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _Refused(name)  # NaN, Infinity, -Infinity


def nests(text: str) -> bool:
    """True when an array or object opens inside another (outside string literals)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > 1:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _is_int(value: Any) -> bool:
    return type(value) is int  # not bool


def _stamp_ok(value: Any) -> bool:
    if value is None or _is_int(value):
        return True
    if type(value) is float:
        return math.isfinite(value)  # 1e400 parses as inf without calling parse_constant
    return isinstance(value, str) and len(value) <= MAX_STAMP_CHARS


def parse(text: str) -> Control | None:
    """The control message in `text`, or None when it is not exactly one of the known shapes."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return None
    if nests(text):
        return None
    try:
        message = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # _Refused, bad JSON, ints over Python's digit limit
        return None
    if not isinstance(message, dict):
        return None
    kind = message.get("type")
    if kind == "resize" and set(message) == {"type", "rows", "cols"}:
        rows, cols = message["rows"], message["cols"]
        if not (_is_int(rows) and _is_int(cols)):
            return None
        # A page may measure a hidden or tiny element: a size out of range is not hostile,
        # just not applied.
        fits = MIN_SIZE <= rows <= MAX_SIZE and MIN_SIZE <= cols <= MAX_SIZE
        return Control("resize", size=(rows, cols) if fits else None)
    if kind == "ping" and set(message) <= {"type", "t"}:
        stamp = message.get("t")
        return Control("ping", stamp=stamp) if _stamp_ok(stamp) else None
    return None
