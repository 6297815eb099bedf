"""Who may open a preview: a short-lived signed link, turned into a cookie of that preview host.

The «Abrir» link on Muelle's page carries an entry token (60 s) for one student's one port; the
preview host checks it and sets its own cookie (host-only, HttpOnly), valid for that host only.
A share link is the same with a longer life, made on purpose by the student.

The Vista tab frames a preview inside Muelle's page, a cross-site frame where a SameSite=Lax
cookie is neither set nor sent. Its entry token (kind «marco») is single-use, names the page
origin allowed to frame it, and becomes a cookie of its own (`FRAME_COOKIE_NAME`) that the proxy
sets `SameSite=None; Secure; Partitioned`: the browser keeps it only under Muelle's site as the
top-level page (CHIPS), so no other site's page ever sends it.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core import signing

ENTRY_SALT = "muelle.preview.entry"
COOKIE_SALT = "muelle.preview.cookie"
FRAME_COOKIE_SALT = "muelle.preview.frame"
COOKIE_NAME = "muelle_vista"
FRAME_COOKIE_NAME = "muelle_vista_marco"
COOKIE_NAMES = (COOKIE_NAME, FRAME_COOKIE_NAME)
ENTRY_SECONDS = 60
# An origin as it may appear in a CSP source list: scheme, host, optional port, nothing else.
_ORIGIN = re.compile(r"^https?://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?$")


@dataclass(frozen=True)
class Grant:
    public_id: str
    host_port: int
    expires: int  # unix time the cookie stops working
    framer: str | None = None  # the one page origin that may frame it (a «marco» grant)


def entry_token(public_id: str, host_port: int, *, share: bool = False) -> str:
    lifetime = settings.PREVIEW_SHARE_SECONDS if share else settings.PREVIEW_COOKIE_SECONDS
    # The kind is signed too: an «Abrir» link (60 s to use) must not work as a share link
    # (accepted for PREVIEW_SHARE_SECONDS) by only changing its path.
    payload = {"i": public_id, "p": host_port, "x": int(time.time()) + lifetime, "k": _kind(share)}
    return signing.dumps(payload, salt=ENTRY_SALT, compress=False)


def _kind(share: bool) -> str:
    return "compartir" if share else "entrar"


def valid_origin(origin: str) -> bool:
    return bool(_ORIGIN.match(origin))


def frame_token(public_id: str, host_port: int, framer: str) -> str:
    """The Vista frame's entry: 60 s, once, and only framed by `framer` (Muelle's page origin)."""
    if not valid_origin(framer):
        raise ValueError(f"not an origin: {framer!r}")
    payload = {
        "i": public_id,
        "p": host_port,
        "x": int(time.time()) + settings.PREVIEW_COOKIE_SECONDS,
        "k": "marco",
        "o": framer,
        "n": secrets.token_urlsafe(12),
    }
    return signing.dumps(payload, salt=ENTRY_SALT, compress=False)


# Nonces of frame tokens already exchanged, with the time they would expire anyway. The link
# travels in a frame's URL (history, a screenshot, a student's shared screen): used once, it is
# dead. One process serves the previews (tutorial.server), so memory is the right place.
_spent: dict[str, float] = {}


def read_frame_entry(token: str, public_id: str, host_port: int) -> Grant | None:
    try:
        data = signing.loads(token, salt=ENTRY_SALT, max_age=ENTRY_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("k") != "marco":
        return None
    nonce, framer = data.get("n"), data.get("o")
    if not isinstance(nonce, str) or not isinstance(framer, str) or not valid_origin(framer):
        return None
    grant = _grant(data, public_id, host_port)
    if grant is None:
        return None
    now = time.time()
    for old in [n for n, until in _spent.items() if until <= now]:
        del _spent[old]
    if nonce in _spent:
        return None
    _spent[nonce] = now + ENTRY_SECONDS + 1
    return Grant(grant.public_id, grant.host_port, grant.expires, framer)


def read_entry(token: str, public_id: str, host_port: int, *, share: bool) -> Grant | None:
    max_age = settings.PREVIEW_SHARE_SECONDS if share else ENTRY_SECONDS
    try:
        data = signing.loads(token, salt=ENTRY_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("k") != _kind(share):
        return None
    return _grant(data, public_id, host_port)


def cookie_value(grant: Grant) -> str:
    if grant.framer is not None:
        return signing.dumps(
            {"i": grant.public_id, "p": grant.host_port, "x": grant.expires, "o": grant.framer},
            salt=FRAME_COOKIE_SALT,
            compress=False,
        )
    return signing.dumps(
        {"i": grant.public_id, "p": grant.host_port, "x": grant.expires},
        salt=COOKIE_SALT,
        compress=False,
    )


def read_cookie(
    value: str | None, public_id: str, host_port: int, *, frame: bool = False
) -> Grant | None:
    if not value:
        return None
    try:
        data = _cookie_payload(value, FRAME_COOKIE_SALT if frame else COOKIE_SALT)
    except signing.BadSignature:
        return None
    grant = _grant(data, public_id, host_port)
    if grant is None or not frame or not isinstance(data, dict):  # _grant checked it is one
        return grant
    framer = data.get("o")
    if not isinstance(framer, str) or not valid_origin(framer):
        return None
    return Grant(grant.public_id, grant.host_port, grant.expires, framer)


@lru_cache(maxsize=4096)
def _cookie_payload(value: str, salt: str) -> object:
    """A cookie's signed payload, checked once: every request of a page (and each of its
    scripts and images) carries the same cookie, and the HMAC, base64 and JSON of the check were
    a measurable part of a preview request. Only good signatures are kept (BadSignature is
    raised, not cached); the expiry inside is read again on every use (_grant)."""
    return signing.loads(value, salt=salt)


def _grant(data: object, public_id: str, host_port: int) -> Grant | None:
    if not isinstance(data, dict):
        return None
    if data.get("i") != public_id or data.get("p") != host_port:
        return None  # a link for another student's preview, or another port of theirs
    expires = data.get("x")
    if not isinstance(expires, int) or expires <= time.time():
        return None
    return Grant(public_id, host_port, expires)
