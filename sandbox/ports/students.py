"""Each student's PortTable, opened with their gateway and closed with it.

Tables hold sockets and tasks of the event loop that opened them; like the gateways, a table of
a loop that is gone (tests run one loop per test) is forgotten and made again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable

from django.conf import settings

from sandbox.gateway.student import Student

from . import byte_rate
from .table import PortTable

_tables: dict[str, tuple[asyncio.AbstractEventLoop, PortTable]] = {}
_by_public_id: dict[str, str] = {}


def public_id(owner: str) -> str:
    """The student's name in preview addresses: stable, and says nothing about the owner key
    (which is as good as their session)."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"vista:{owner}".encode(), hashlib.sha256)
    return digest.hexdigest()[:12]


def open_table(student: Student, sandbox_folder: Callable[[], str | None]) -> PortTable:
    loop = asyncio.get_running_loop()
    held = _tables.get(student.owner)
    if held is not None and held[0] is loop:
        return held[1]
    table = PortTable(
        owner=student.owner,
        engine=student.engine,
        label_filters=list(student.ns.label_filters),
        shown_name=student.ns.student_object_name,
        sandbox_folder=sandbox_folder,
        byte_rate=byte_rate.limit_for(public_id(student.owner)),
    )
    _tables[student.owner] = (loop, table)
    _by_public_id[public_id(student.owner)] = student.owner
    table.watch()
    return table


def table_of(owner: str) -> PortTable | None:
    held = _tables.get(owner)
    if held is None:
        return None
    try:
        current = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    return held[1] if held[0] is current else None


def owner_of(public: str) -> str | None:
    return _by_public_id.get(public)


async def close_table(owner: str) -> None:
    held = _tables.pop(owner, None)
    _by_public_id.pop(public_id(owner), None)
    if held is None:
        return
    loop, table = held
    if loop is asyncio.get_running_loop():
        await table.close()
