"""The classic builder's Dockerfile parser, ported rule for rule so the gateway reads what the
engine will read.

Docker 20.10's classic builder parses with moby/buildkit `frontend/dockerfile/parser`
(vendored at v0.8.4-0.20221020190723-eeb7b65ab7d6: `parser.go`, `split_command.go`,
`line_parsers.go`). Every difference between this module and that code is a way to make the
gateway check one instruction while the engine runs another, so the port keeps Go's exact
character sets instead of Python's (`str.split()`, `\\s` and `str.lower()` all accept more):

- lines are split on "\\n" only, one trailing "\\r" dropped (`bufio.ScanLines`); a lone "\\r"
  stays inside the line;
- the keyword ends at the first run of `[\\t\\v\\f\\r ]` (`reWhitespace`);
- the parser directives regex uses Go's `\\s` (`[\\t\\n\\f\\r ]`, no "\\v");
- line continuation: the escape token followed by spaces or tabs at the end of a line, unless
  the token itself is escaped; comment lines inside a continuation are dropped, and so are
  empty continuation lines;
- builder flags (`--from=...`) are read byte by byte, honouring quotes and backslashes.

The file is handled as text that `prepare()` first proved to be free of the characters Go reads
differently from Python (non-ASCII white space, which Go sometimes reads rune by rune and
sometimes byte by byte). No heredocs: the 20.10 parser has none, so `RUN <<EOF` is an ordinary
shell form and the lines after it are instructions, exactly as here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from .errors import GatewayError, bad_request, refused

# Go's unicode.IsSpace on a rune (after prepare() no other white space is left).
_GO_SPACE = "\t\n\v\f\r "
# Go's unicode.IsSpace(rune(b)) on one byte: also NEL and NO-BREAK SPACE, which only occur
# inside UTF-8 sequences once prepare() ran (extractBuilderFlags reads bytes).
_NON_ASCII_SPACES = frozenset(
    "\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_RE_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
# Go's `\s` is [\t\n\f\r ]; Python's would also take \v and Unicode spaces.
_RE_DIRECTIVE = re.compile(
    r"^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z"
)
_KEYWORD = re.compile(r"^[a-z]+\Z")
# bufio.MaxScanTokenSize is 64 KiB: a longer line stops the engine's parser with an error.
MAX_LINE_BYTES = 64 * 1024 - 1
KNOWN = frozenset(
    {
        "add",
        "arg",
        "cmd",
        "copy",
        "entrypoint",
        "env",
        "expose",
        "from",
        "healthcheck",
        "label",
        "maintainer",
        "onbuild",
        "run",
        "shell",
        "stopsignal",
        "user",
        "volume",
        "workdir",
    }
)


@dataclass
class Node:
    """One instruction as the engine's parser sees it."""

    keyword: str  # lower case, as the parser's `cmd`
    flags: list[str]  # builder flags, unquoted, with their leading "--"
    args: str  # what follows the flags, trimmed
    line: int  # first line in the file (1-based)
    original: str  # the joined line


@dataclass
class Parsed:
    escape: str
    nodes: list[Node] = field(default_factory=list)
    syntax: str | None = None


def _at(line: int, message: str) -> GatewayError:
    return bad_request(
        _("Dockerfile, línea %(line)d: %(message)s") % {"line": line, "message": message}
    )


def prepare(raw: bytes) -> str:
    """The Dockerfile as text, or a refusal when Go and Python would not read it alike."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request(_("El Dockerfile no está en UTF-8.")) from None
    text = text.removeprefix("\ufeff")  # the parser drops a BOM on the first line only
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line.encode()) > MAX_LINE_BYTES:
            raise _at(number, _("la línea es demasiado larga (más de 64 KiB)."))
        if any(ch in _NON_ASCII_SPACES for ch in line):
            raise refused(
                _(
                    "Dockerfile, línea %(line)d: hay un espacio Unicode que no es un espacio "
                    "normal. Escríbelo con espacios o tabuladores corrientes."
                )
                % {"line": number}
            )
    return text


def _trim_left(text: str) -> str:
    return text.lstrip(_GO_SPACE)


def _trim(text: str) -> str:
    return text.strip(_GO_SPACE)


class _Directives:
    def __init__(self) -> None:
        self.escape = "\\"
        self.done = False
        self.seen: dict[str, str] = {}
        self._continuation = self._regex("\\")

    @staticmethod
    def _regex(token: str) -> re.Pattern[str]:
        e = re.escape(token)
        return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")

    def possible_directive(self, line: str, number: int) -> None:
        if self.done:
            return
        match = _RE_DIRECTIVE.match(line)
        if not match:
            self.done = True
            return
        key = match.group(1).lower()
        if key not in ("escape", "syntax"):
            self.done = True
            return
        if key in self.seen:
            raise _at(number, _("solo puede haber una directiva %(k)s.") % {"k": key})
        self.seen[key] = match.group(2)
        if key == "escape":
            if match.group(2) not in ("\\", "`"):
                raise _at(number, _("la directiva escape solo admite \\ o `."))
            self.escape = match.group(2)
            self._continuation = self._regex(self.escape)

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        if self._continuation.search(line):
            return self._continuation.sub(r"\1", line), False
        return line, True


def _is_comment(line: str) -> bool:
    return _trim_left(line).startswith("#")


def _process_line(d: _Directives, token: str, strip_left: bool, number: int) -> str:
    if strip_left:
        token = _trim_left(token)
    d.possible_directive(token, number)
    return "" if token.startswith("#") else token  # reComment `^#.*$`, no `(?s)`


def _scan_lines(text: str) -> list[str]:
    """bufio.ScanLines: split on "\\n", drop one "\\r" before it, no empty last token."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def parse(text: str) -> Parsed:
    """`parser.Parse`: logical instructions after directives, comments and continuations."""
    d = _Directives()
    nodes: list[Node] = []
    lines = _scan_lines(text)
    index = 0
    current = 0
    while index < len(lines):
        processed = _process_line(d, lines[index], True, current + 1)
        index += 1
        current += 1
        start = current
        line, is_end = d.trim_continuation(processed)
        if is_end and line == "":
            continue
        while not is_end and index < len(lines):
            raw = lines[index]
            processed = _process_line(d, raw, False, current + 1)
            index += 1
            current += 1
            if _is_comment(raw):
                continue
            if _trim_left(processed) == "":
                continue  # an empty continuation line (a warning in 20.10)
            more, is_end = d.trim_continuation(processed)
            line += more
        nodes.append(split_command(line, start))
    return Parsed(d.escape, nodes, d.seen.get("syntax"))


def split_command(line: str, number: int) -> Node:
    """`splitCommand`: keyword, builder flags and the rest of one logical line."""
    parts = _RE_WHITESPACE.split(_trim(line), maxsplit=1)
    keyword = parts[0]
    if not keyword.isascii():
        # Go lower-cases runes (the Kelvin sign becomes "k"): refuse rather than guess.
        raise _at(number, _("instrucción desconocida: «%(k)s».") % {"k": keyword[:40]})
    keyword = keyword.lower()
    flags: list[str] = []
    args = ""
    if len(parts) == 2:
        args, flags = _extract_flags(parts[1], number)
    return Node(keyword, flags, _trim(args), number, line)


def _extract_flags(line: str, number: int) -> tuple[str, list[str]]:
    """`extractBuilderFlags`, on text whose flags are ASCII (Go reads them byte by byte)."""
    words: list[str] = []
    in_spaces, in_word, in_quote = 0, 1, 2
    phase = in_spaces
    word = ""
    quote = ""
    blank_ok = False
    pos = 0
    size = len(line)
    while pos <= size:
        ch = line[pos] if pos < size else ""
        if phase == in_spaces:
            if pos == size:
                break
            if ch in _GO_SPACE:
                pos += 1
                continue
            if ch != "-" or pos + 1 == size or line[pos + 1] != "-":
                return line[pos:], words
            phase = in_word
        if phase in (in_word, in_quote) and pos == size:
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if not ch.isascii():
            raise _at(number, _("las opciones de una instrucción solo admiten caracteres ASCII."))
        if phase == in_word:
            if ch in _GO_SPACE:
                phase = in_spaces
                if word == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(word)
                word = ""
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = in_quote
                pos += 1
                continue
            if ch == "\\":
                if pos + 1 == size:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
                if not ch.isascii():
                    raise _at(
                        number, _("las opciones de una instrucción solo admiten caracteres ASCII.")
                    )
            word += ch
            pos += 1
            continue
        # in_quote
        if ch == quote:
            phase = in_word
            pos += 1
            continue
        if ch == "\\":
            if pos + 1 == size:
                phase = in_word
                pos += 1
                continue
            pos += 1
            ch = line[pos]
            if not ch.isascii():
                raise _at(
                    number, _("las opciones de una instrucción solo admiten caracteres ASCII.")
                )
        word += ch
        pos += 1
    return "", words


def json_array(args: str) -> list[str] | None:
    """`parseJSON`: a JSON array of strings at the start of `args` (Go's decoder reads the
    first value and ignores what follows it); None for the shell/whitespace form."""
    rest = _trim_left(args)
    if not rest.startswith("["):
        return None
    try:
        value, _end = json.JSONDecoder(parse_constant=_no_constant).raw_decode(rest)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise bad_request(_("Una instrucción en formato JSON solo admite textos entre comillas."))
    return value


def _no_constant(name: str) -> None:
    raise ValueError(name)  # Go's JSON has no NaN or Infinity


def whitespace_words(args: str) -> list[str]:
    """`parseStringsWhitespaceDelimited`."""
    if args == "":
        return []
    return _RE_WHITESPACE.split(args)


def is_keyword(word: str) -> bool:
    return bool(_KEYWORD.match(word)) and word in KNOWN


def continues(line: str, escape: str) -> bool:
    """True when the engine would join `line` with the next one."""
    return _Directives._regex(escape).search(line) is not None


def label_keys(args: str) -> list[str]:
    """The keys a LABEL's arguments set, split as the engine splits them (buildkit's
    parseNameVal on parseWords: a quote or an escape keeps a word whole, so `"a b"=c
    muelle.role=x` is the `key=value` form with two keys, not the old `LABEL key value` form
    with the key `a`), then without quotes and escapes, as the engine's expansion of the key
    leaves it. Read under both escape tokens (a Dockerfile may choose `` ` ``); lower case."""
    keys: list[str] = []
    for escape in ("\\", "`"):
        words = _label_words(args, escape)
        if not words:
            continue
        if "=" not in words[0]:
            # The old form: the key is the text's first token, split at white space only.
            keys.append(_RE_WHITESPACE.split(_trim_left(args), 1)[0])
            keys.append(words[0])
        else:
            keys += [word.split("=", 1)[0] for word in words]
    return sorted({re.sub(r"[\"'\\`]", "", key).lower() for key in keys})


def _label_words(rest: str, escape: str) -> list[str]:
    """buildkit's `parseWords`: words split at white space outside quotes, quotes and escapes
    kept in them (the engine drops those when it expands each key)."""
    words: list[str] = []
    word = ""
    quote = ""
    blank_ok = False
    in_word = False
    pos = 0
    while pos < len(rest):
        ch = rest[pos]
        if ch == escape and quote != "'":
            # Outside quotes or inside double ones the escape keeps the next character in the
            # word, whatever it is (a space, a quote); one at the very end is dropped.
            if pos + 1 == len(rest):
                break
            in_word = True
            word += rest[pos : pos + 2]
            pos += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
            word += ch
        elif ch in _GO_SPACE or ch in _NON_ASCII_SPACES:
            if in_word and (blank_ok or word):
                words.append(word)
            word, blank_ok, in_word = "", False, False
        else:
            in_word = True
            if ch in ("'", '"'):
                quote, blank_ok = ch, True
            word += ch
        pos += 1
    if in_word and (blank_ok or word):
        words.append(word)
    return words


def sets_reserved_label(args: str) -> bool:
    """Whether a LABEL could set one of Muelle's own labels (`muelle.*`). A variable is refused
    too: the engine expands `${P}` in keys (`ENV P=muelle`, then `LABEL ${P}.role=…`)."""
    return "$" in args or any(key.startswith("muelle") for key in label_keys(args))
