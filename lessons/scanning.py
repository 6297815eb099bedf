"""Read a lesson's markdown source line by line: links, images, code fences, layout pitfalls.

The renderer never needs this; check_lessons and the catalog do, because they must say on which
line a broken link or an odd fence is. Code inside fences and inline code spans is skipped, so a
`[x](y)` in a code example is not a link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

_FENCE = re.compile(r"^(?P<prefix>(?:[ \t]*>)*[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](url "title") and ![alt](url); one level of balanced parentheses inside the URL.
_INLINE_LINK = re.compile(
    r"(?P<image>!?)\[(?P<text>(?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*"
    r"(?:<(?P<angle>[^>\n]*)>|(?P<url>(?:[^()\s]|\([^()\s]*\))+))"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)"
)
_REFERENCE_DEFINITION = re.compile(r"^[ ]{0,3}\[(?P<label>[^\]]+)\]:\s*<?(?P<url>[^\s>]+)>?")
_REFERENCE_USE = re.compile(r"(?P<image>!?)\[(?P<text>[^\]]*)\]\[(?P<label>[^\]]*)\]")
_RAW_HTML_URL = re.compile(
    r"<(?P<tag>a|img)\b[^>]*?\s(?P<attr>href|src)\s*=\s*(?P<quote>[\"'])(?P<url>.*?)(?P=quote)",
    re.IGNORECASE,
)
_HEADING = re.compile(r"^[ ]{0,3}#{1,6}(?:[ \t]|$)")
_QUOTE = re.compile(r"^[ ]{0,3}>")


@dataclass(frozen=True)
class Link:
    line: int
    url: str
    is_image: bool


@dataclass(frozen=True)
class Fence:
    line: int
    language: str
    options: tuple[str, ...]  # words after the language (`ejecutable`)
    attributes: str  # a `{...}` attribute list, when the fence has one
    code: str = ""  # the block's text, without the fence lines and the list/quote indentation

    def option_value(self, name: str) -> str | None:
        """The value of a `name=value` option (`archivo=Dockerfile`), if the fence has one."""
        for word in self.options:
            key, equals, value = word.partition("=")
            if equals and key == name:
                return value.strip("\"'")
        return None


@dataclass(frozen=True)
class Scan:
    links: tuple[Link, ...]
    fences: tuple[Fence, ...]
    headings_inside_quotes: tuple[int, ...]  # lines of `## x` glued to a `> quote` line above


def _parse_info(info: str) -> tuple[str, tuple[str, ...], str]:
    info = info.strip()
    attributes = ""
    brace = info.find("{")
    if brace != -1:
        attributes = info[brace:]
        info = info[:brace].strip()
    words = info.split()
    language = words[0].lstrip(".") if words else ""
    return language, tuple(words[1:]), attributes


def scan(body: str, first_line: int) -> Scan:
    """Scan `body`, whose first line is line `first_line` of the file."""
    links: list[Link] = []
    fences: list[Fence] = []
    glued: list[int] = []
    definitions: dict[str, tuple[int, str]] = {}
    used_labels: list[tuple[int, str, bool]] = []
    open_fence: str | None = None
    fence_prefix = ""
    code: list[str] = []
    previous_was_quote = False

    for offset, line in enumerate(body.split("\n")):
        number = first_line + offset
        match = _FENCE.match(line)
        if open_fence is not None:
            if (
                match
                and match["fence"][0] == open_fence[0]
                and len(match["fence"]) >= len(open_fence)
            ):
                if not match["info"].strip():
                    open_fence = None
                    fences[-1] = replace(fences[-1], code="\n".join(code))
                    previous_was_quote = False
                    continue
            code.append(_unindent(line, fence_prefix))
            previous_was_quote = False
            continue
        if match and not (match["fence"][0] == "`" and "`" in match["info"]):
            open_fence = match["fence"]
            fence_prefix, code = match["prefix"], []
            language, options, attributes = _parse_info(match["info"])
            fences.append(Fence(number, language, options, attributes))
            previous_was_quote = False
            continue

        if previous_was_quote and _HEADING.match(line):
            glued.append(number)
        previous_was_quote = bool(_QUOTE.match(line))

        definition = _REFERENCE_DEFINITION.match(line)
        if definition:
            definitions[definition["label"].strip().lower()] = (number, definition["url"])
            continue

        text = _INLINE_CODE.sub(lambda m: " " * len(m.group()), line)
        for link in _INLINE_LINK.finditer(text):
            url = link["angle"] if link["angle"] is not None else link["url"]
            links.append(Link(number, url.strip(), bool(link["image"])))
        for use in _REFERENCE_USE.finditer(text):
            label = (use["label"] or use["text"]).strip().lower()
            used_labels.append((number, label, bool(use["image"])))
        for raw in _RAW_HTML_URL.finditer(text):
            links.append(Link(number, raw["url"].strip(), raw["tag"].lower() == "img"))

    images_by_label = {label for _line, label, is_image in used_labels if is_image}
    for label, (number, url) in definitions.items():
        links.append(Link(number, url, label in images_by_label))
    if open_fence is not None and fences:  # never closed: it runs to the end of the text
        fences[-1] = replace(fences[-1], code="\n".join(code))
    links.sort(key=lambda link: link.line)
    return Scan(tuple(links), tuple(fences), tuple(glued))


def _unindent(line: str, prefix: str) -> str:
    """A code line without the indentation (list item) or `>` (quote) its fence has."""
    if line.startswith(prefix):
        return line[len(prefix) :]
    stripped = line.lstrip(" \t")
    return stripped if len(line) - len(stripped) <= len(prefix) else line[len(prefix) :]
