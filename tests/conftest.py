"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import subprocess
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


def pytest_configure(config: pytest.Config) -> None:
    # On several workers, the static files the live servers serve (harness/live_server.py) are
    # collected once here, before any worker starts: a collect deletes and rewrites hashed files
    # while another worker's server or test reads them (FileNotFoundError in whitenoise's scan).
    from harness.live_server import PYTHON, ROOT, STATIC_COLLECTED

    distributed = getattr(config.option, "numprocesses", None)
    if not distributed or hasattr(config, "workerinput") or config.option.collectonly:
        return
    env = {**os.environ, "DEBUG": "0", "HTTPS": "0", "MUELLE_INSECURE_DEV_KEY": "1"}
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "tutorial.settings"},
        check=True,
        timeout=300,
    )
    os.environ[STATIC_COLLECTED] = "1"  # the workers inherit it


def in_browser_folder(item: pytest.Item) -> bool:
    return "e2e" in item.path.parts


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    # scripts/test runs the suite on several workers (pytest-xdist). A unit of work goes whole to
    # one worker: a file, so its module-scoped servers start once; or all the browser tests, so
    # they share one Chromium in one process and run last there (see below). xdist's own
    # xdist_group marker does not group under pytest 9 (it rewrites Item._nodeid, which pytest 9
    # no longer reads), hence this scheduler.
    from xdist.scheduler import LoadScopeScheduling

    class FileOrBrowserScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/e2e" if path.startswith("tests/e2e/") else path

    return FileOrBrowserScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Playwright's sync API leaves an event loop running in the main thread for as long as its
    # session-scoped browser lives; asyncio.run() and async tests refuse to start beside it. The
    # browser tests therefore run last, in their collected order; on several workers their unit
    # is the last one handed out (scripts/test keeps the collected order: --no-loadscope-reorder).
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
    # Nor do they serve collected files: whitenoise would scan var/staticfiles while a live
    # server's collectstatic (this run's, or another run's in this folder) deletes and rewrites
    # files there (FileNotFoundError). A folder that does not exist: nothing to scan.
    settings.STATIC_ROOT = str(settings.BASE_DIR / "var" / "no-collected-static-in-process")


@pytest.fixture(autouse=True)
def _fresh_session_rate() -> None:
    # Every in-process request comes from 127.0.0.1: the per-address budgets of new sessions
    # (tutorial.session_rate) and failed logins (exercises.login_limits), process state, start
    # full for each test, as tests are independent.
    from exercises.login_limits import failures
    from tutorial.session_rate import buckets

    buckets.buckets.clear()
    failures.buckets.clear()
