"""Fixtures shared by every test folder."""

from __future__ import annotations

import os

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
