"""Muelle's preview cookies are read in two places: to grant access (access._our_cookies) and
to keep them from the student's container (access.without_our_cookie). Whatever the first
reads as Muelle's, the second must remove: an attack review found a name padded with \\x85
(which str.strip() trims and bytes.strip() does not) that granted access and still reached the
container."""

from __future__ import annotations

import random

from sandbox.preview import access, tokens

NAMES = [name.encode() for name in tokens.COOKIE_NAMES] + [b"sessionid", b"tema", b"muelle"]
# Every byte a hand-written client can put around a name or value, but the two that make the
# header's structure (";" between cookies, "=" inside one).
PADDING = bytes(b for b in range(256) if b not in b";=")


def _cookie_header(rng: random.Random) -> bytes:
    def pad() -> bytes:
        return bytes(rng.choice(PADDING) for _ in range(rng.choice((0, 0, 1, 2))))

    parts = [
        pad() + rng.choice(NAMES) + pad() + b"=" + pad() + b"v" + pad()
        for _ in range(rng.randint(1, 4))
    ]
    return b";".join(parts)


def _read_as_ours(header: bytes) -> list[tuple[str, str]]:
    return access._our_cookies({"headers": [(b"cookie", header)]})


def test_what_goes_to_the_container_holds_no_cookie_muelle_reads_as_its_own():
    rng = random.Random(20261206)  # noqa: S311 - a fuzzer's repeatable choices, no secret
    ours = theirs = 0
    for _ in range(30000):
        header = _cookie_header(rng)
        read = _read_as_ours(header)
        sent = access.without_our_cookie(header) or b""
        assert _read_as_ours(sent) == [], header
        # ...and nothing else is taken away: each cookie part not read as Muelle's goes on.
        parts = [p for p in header.split(b";") if p.strip(b" \t")]
        kept = [p for p in sent.split(b";") if p.strip(b" \t")]
        assert len(kept) == len(parts) - len(read), header
        ours += bool(read)
        theirs += bool(kept)
    assert ours > 5000 and theirs > 5000, (ours, theirs)


def test_a_name_padded_with_a_non_ascii_space_is_not_muelle_s_cookie():
    for pad in (b"\x85", b"\xa0", b"\x0b", b"\x0c", b"\x1c"):
        header = pad + b"muelle_vista=firma"
        assert _read_as_ours(header) == []
        assert access.without_our_cookie(header) == header
    assert _read_as_ours(b" \tmuelle_vista\t = firma ") == [("muelle_vista", "firma")]
    assert access.without_our_cookie(b" \tmuelle_vista\t = firma ; tema=oscuro") == b"tema=oscuro"
