"""Who may open a preview: a short-lived signed link, turned into a cookie of that preview host.

The «Abrir» link on Muelle's page carries an entry token (60 s) for one student's one port; the
preview host checks it and sets its own cookie (host-only, HttpOnly), valid for that host only.
A share link is the same with a longer life, made on purpose by the student.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

ENTRY_SALT = "muelle.preview.entry"
COOKIE_SALT = "muelle.preview.cookie"
COOKIE_NAME = "muelle_vista"
ENTRY_SECONDS = 60


@dataclass(frozen=True)
class Grant:
    public_id: str
    host_port: int
    expires: int  # unix time the cookie stops working


def entry_token(public_id: str, host_port: int, *, share: bool = False) -> str:
    lifetime = settings.PREVIEW_SHARE_SECONDS if share else settings.PREVIEW_COOKIE_SECONDS
    # The kind is signed too: an «Abrir» link (60 s to use) must not work as a share link
    # (accepted for PREVIEW_SHARE_SECONDS) by only changing its path.
    payload = {"i": public_id, "p": host_port, "x": int(time.time()) + lifetime, "k": _kind(share)}
    return signing.dumps(payload, salt=ENTRY_SALT, compress=False)


def _kind(share: bool) -> str:
    return "compartir" if share else "entrar"


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
    return signing.dumps(
        {"i": grant.public_id, "p": grant.host_port, "x": grant.expires},
        salt=COOKIE_SALT,
        compress=False,
    )


def read_cookie(value: str | None, public_id: str, host_port: int) -> Grant | None:
    if not value:
        return None
    try:
        data = signing.loads(value, salt=COOKIE_SALT)
    except signing.BadSignature:
        return None
    return _grant(data, public_id, host_port)


def _grant(data: object, public_id: str, host_port: int) -> Grant | None:
    if not isinstance(data, dict):
        return None
    if data.get("i") != public_id or data.get("p") != host_port:
        return None  # a link for another student's preview, or another port of theirs
    expires = data.get("x")
    if not isinstance(expires, int) or expires <= time.time():
        return None
    return Grant(public_id, host_port, expires)
