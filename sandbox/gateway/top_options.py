"""Which `ps` options a student's `docker top` may pass to the engine.

The engine runs the **host's** `ps` with them and `-q<the container's pids>`; when `ps` refuses
that (with a forest, `-H` or `f`), it runs them again without it, over every process on the
host. Then it keeps the rows whose PID column holds one of the container's pids: it finds that
column as the first header named PID and splits each row on whitespace. An attack review
fooled it (every process of the host listed, with its environment: other students' secrets,
the server's): a custom header (`rtprio=PID`) named another column PID; a process of the
student's set its own name to «! <its pid>», so a column before PID split in two and the row
matched; every row after a matching one whose PID is «-» is kept (the engine's reading of
thread rows), and `--sort` put every other process there; and the BSD `e` shows each one's
environment.

So only what keeps that column exact passes: no custom headers (no «=»), no sorting, no
options that take an argument other than the output format, and an output format only with
`pid` first (nothing before it to split). The predefined formats put before PID only columns
that are one word each (F, S, UID, USER, PPID). What `ps` itself then refuses is its error,
about the student's own words. (This holds while the engine runs without PS_PERSONALITY or
PS_FORMAT in its environment, as Debian's and Docker's packages start it.)
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from .errors import GatewayError, bad_request

# Letters of UNIX-style options (after «-») that select or format without an argument:
# -A/-e every process, -f/-F full, -l long, -j jobs, -y (with -l), -H hierarchy, -L/-T threads,
# -w wide.
_UNIX = frozenset("AefFljyHLTw")
# «ps -aux» or «-ax», a habit: procps reads them as BSD «aux», «ax» (with a warning); so does
# the gateway.
_BSD_WITH_A_DASH = frozenset("aux")
# BSD-style letters (no dash): a, x (every process), u, j, l, s, v (formats), e (environment),
# f (forest), m (threads), w (wide), c (true name), n (numeric), h is left out (no header: the
# engine would find no PID column).
_BSD = frozenset("axujlsvefmwcn")
# The output format's fields: ps's own names (no «=header»), pid first, at most this many.
_FIELD = re.compile(r"^[a-z%_0-9]{1,16}\Z")
_MAX_FIELDS = 24
MAX_LENGTH = 256


def checked(value: str) -> str:
    """The options as they go to the engine (one space between words), or GatewayError."""
    if len(value) > MAX_LENGTH:
        raise _refused(value)
    words = value.split()
    out: list[str] = []
    formats = 0
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word.startswith("-") and len(word) > 1 and set(word[1:]) <= _BSD_WITH_A_DASH:
            word = word[1:]
        dashed = word.startswith("-")
        letters, allowed = (word[1:], _UNIX) if dashed else (word, _BSD)
        if not letters or word.startswith("--"):
            raise _refused(value)
        head, o, rest = letters.partition("o")
        if not all(letter in allowed for letter in head):
            raise _refused(value)
        if not o:
            out.append(word)
            continue
        # An output format: -o LIST, -oLIST, -eo LIST, o LIST, axo LIST.
        formats += 1
        if rest:
            fields = rest
        elif index < len(words):
            fields = words[index]
            index += 1
        else:
            raise _refused(value)
        _check_format(fields, value)
        out.append(("-" if dashed else "") + head + "o")
        out.append(fields)
    if formats > 1:
        raise _refused(value)
    return " ".join(out)


def _check_format(fields: str, value: str) -> None:
    names = fields.split(",")
    if (
        len(names) > _MAX_FIELDS
        or names[0] != "pid"
        or not all(_FIELD.match(name) for name in names)
    ):
        raise _refused(value)


def _refused(value: str) -> GatewayError:
    return bad_request(
        _(
            "Opciones de ps no admitidas en docker top: «%(a)s». Aquí valen las más comunes: "
            "ninguna, «-ef», «aux», «-eLf» o un formato con «-o» que empiece por «pid» (por "
            "ejemplo «-o pid,user,args»), sin «=» ni «--sort»."
        )
        % {"a": value[:80]}
    )
