"""A real ASGI server (uvicorn, HTTP + websockets) and headless Chromium for browser tests.

pytest-django's live_server speaks WSGI only, so the terminal's websocket would not work there.
Playwright's sync API cannot run inside pytest-asyncio's loop, so browser tests stay synchronous.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .lesson_site import remove_instance_containers, write_lessons

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_asgi_server(transactional_db: None, settings) -> Iterator[str]:  # noqa: ANN001
    """Serves tutorial.asgi on loopback in a thread; yields its base URL."""
    import uvicorn

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from channels.routing import ProtocolTypeRouter
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from sandbox.preview import addresses as preview_addresses
    from sandbox.preview import proxy as preview_proxy
    from tutorial.asgi import application

    static_http = ASGIStaticFilesHandler(application.application_mapping["http"])
    websocket = application.application_mapping["websocket"]

    # Preview hosts (a student's published port) go to the preview origin, as tutorial.asgi does.
    async def http(scope, receive, send):  # noqa: ANN001, ANN202
        if preview_addresses.is_preview_scope(scope):
            return await preview_proxy.app(scope, receive, send)
        return await static_http(scope, receive, send)

    async def ws(scope, receive, send):  # noqa: ANN001, ANN202
        if preview_addresses.is_preview_scope(scope):
            return await preview_proxy.app(scope, receive, send)
        return await websocket(scope, receive, send)

    # Serve static files straight from the finders, as runserver would.
    app = ProtocolTypeRouter({"http": http, "websocket": ws})
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="websockets-sansio",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def serve_lessons(
    live_asgi_server: str,
    settings,
    tmp_path: Path,  # noqa: ANN001
) -> Iterator[Callable[[str, dict[str, str], str], str]]:
    """serve_lessons(instance, {file name: text}, slug) -> the URL of lesson `slug`: the course
    is those lessons only, sandboxes are of the test's own `instance` (no warm pool, no Docker
    gateway), and their containers are removed once the test is over."""
    instances: list[str] = []

    def serve(instance: str, lessons: dict[str, str], slug: str) -> str:
        settings.SANDBOX_INSTANCE = instance
        settings.SANDBOX_WARM_POOL = 0
        settings.DOCKER_GATEWAY_ENABLED = False
        write_lessons(settings, tmp_path / "lecciones", lessons)
        instances.append(instance)
        return f"{live_asgi_server}/lecciones/{slug}/"

    yield serve
    for instance in instances:
        remove_instance_containers(instance)


@pytest.fixture(scope="session", autouse=True)
def _allow_django_beside_playwright_loop() -> Iterator[None]:
    # Playwright's sync API keeps an event loop alive in the test thread, which makes Django
    # refuse the database flush between tests; nothing here shares a connection across threads.
    # Set for the browser tests only (they run last, see tests/conftest.py), never for the rest.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _loopback_only(route) -> None:  # noqa: ANN001
    host = urlsplit(route.request.url).hostname or ""
    # *.localhost is loopback too (browsers resolve it there): the preview origin of a port.
    if host in {"127.0.0.1", "localhost", "::1"} or host.endswith(".localhost"):
        route.continue_()
    else:
        route.abort("blockedbyclient")


@pytest.fixture
def page(browser) -> Iterator[object]:  # noqa: ANN001
    context = browser.new_context(locale="es-ES", viewport={"width": 1280, "height": 900})
    # Tests send traffic to loopback only: lesson 1 keeps its author's picture from the web, and
    # the browser must not fetch it (or anything else off this machine).
    context.route("**/*", _loopback_only)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()
