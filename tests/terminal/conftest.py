"""Drives tutorial.asgi's terminal websocket like a browser tab would, against the real engine
and the real course image, under a test-only SANDBOX_INSTANCE whose containers are all removed
after each test."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from channels.testing.websocket import WebsocketCommunicator

from harness.tabs import ORIGIN, Tab, make_session, new_terminal_id

TEST_INSTANCE = f"pytest-terminal-{os.getpid()}"


@pytest.fixture(autouse=True)
def terminal_settings(settings: Any) -> Iterator[Any]:
    settings.SANDBOX_INSTANCE = TEST_INSTANCE
    settings.SANDBOX_WARM_POOL = 0
    settings.SANDBOX_MAX_LIVE = 10
    yield settings


def remove_instance_containers(instance: str) -> None:
    """Removes every container of `instance`; tolerates removals the engine already started."""
    import docker.errors

    from sandbox import engine, hardening

    def containers() -> list[dict[str, Any]]:
        return engine.call_sync(
            lambda api: api.containers(
                all=True, filters={"label": [f"{hardening.LABEL_INSTANCE}={instance}"]}
            )
        )

    deadline = time.monotonic() + 30
    while (found := containers()) and time.monotonic() < deadline:
        for item in found:
            with contextlib.suppress(docker.errors.APIError):  # 404 gone, 409 being removed
                engine.call_sync(lambda api, cid=item["Id"]: api.remove_container(cid, force=True))
        time.sleep(0.2)
    assert not containers(), f"containers of {instance} left behind"


@pytest.fixture(autouse=True)
def remove_test_containers(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if request.node.get_closest_marker("docker"):
        remove_instance_containers(TEST_INSTANCE)


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
        # The page's own host: the Origin check compares the Origin with it (tutorial.origin).
        headers = [(b"host", b"127.0.0.1")]
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
    # Close every shell this test's event loop opened, and stop the engine's reaper and pool.
    from sandbox import engine
    from sandbox.terminals import get_registry

    await get_registry().close_all()
    await engine.stop_background_tasks()
