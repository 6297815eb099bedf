"""Drives tutorial.asgi's terminal websocket like a browser tab would, against the real engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from channels.testing.websocket import WebsocketCommunicator

from .tabs import ORIGIN, Tab, make_session, new_terminal_id


@pytest.fixture
async def session_key(transactional_db: None) -> str:
    return await make_session()


@pytest.fixture
async def open_tab() -> AsyncIterator[Callable[..., Any]]:
    """open_tab(session_key, terminal_id=None, *, origin, query, ready=True) -> a connected Tab
    (after its `ready` message unless ready=False)."""
    from tutorial.asgi import application

    tabs: list[Tab] = []

    async def _open(
        session_key: str | None,
        terminal_id: str | None = None,
        *,
        origin: bytes | None = ORIGIN,
        query: str | None = None,
        ready: bool = True,
    ) -> Tab:
        terminal_id = terminal_id or new_terminal_id()
        headers = []
        if origin is not None:
            headers.append((b"origin", origin))
        if session_key is not None:
            headers.append((b"cookie", f"sessionid={session_key}".encode()))
        path = f"/ws/terminal/?{query}" if query is not None else f"/ws/terminal/?t={terminal_id}"
        tab = Tab(WebsocketCommunicator(application, path, headers=headers))
        tabs.append(tab)
        connected, code = await tab.communicator.connect(timeout=10)
        if not connected:
            tab.close_code = code
        elif ready:
            await tab.event("ready", timeout=60)
        return tab

    yield _open

    for tab in tabs:
        if not tab.communicator.future.done():
            await tab.hang_up()
    # Close every shell and remove every sandbox this test's event loop opened.
    from sandbox.terminals import get_registry

    await get_registry().close_all()
