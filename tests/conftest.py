"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from typing import Any

import pytest


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    # A file, not SQLite's shared in-memory database: the ASGI server of the browser tests runs in
    # another thread and needs a database it can open on its own connections.
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        # Per process, so two test runs on one machine never share (and wipe) a database.
        name = f"test-db-{os.getpid()}.sqlite3"
        db.setdefault("TEST", {})["NAME"] = str(settings.BASE_DIR / "var" / name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Playwright's sync API leaves an event loop running in the main thread for as long as its
    # session-scoped browser lives; asyncio.run() and async tests refuse to start beside it. The
    # browser tests therefore run last, in their collected order.
    def in_browser_folder(item: pytest.Item) -> bool:
        return "e2e" in item.path.parts

    items.sort(key=in_browser_folder)


@pytest.fixture(autouse=True)
def _plain_static_storage(settings: Any) -> None:
    # With DEBUG off the settings pick whitenoise's manifest storage, which only works after
    # collectstatic. In-process tests render templates, they don't deploy; the subprocess servers
    # of tests/reliability run collectstatic themselves (see live_server.py).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_session_rate() -> None:
    # Every in-process request comes from 127.0.0.1: the per-address new-session budget
    # (tutorial.session_rate, process state) starts full for each test, as tests are independent.
    from tutorial.session_rate import buckets

    buckets.buckets.clear()
