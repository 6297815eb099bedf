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
    # they share one Chromium in one process. xdist's own xdist_group marker does not group under
    # pytest 9 (it rewrites Item._nodeid, which pytest 9 no longer reads), hence this scheduler.
    from xdist.scheduler import LoadScopeScheduling

    class FileOrBrowserScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/e2e" if path.startswith("tests/e2e/") else path

    return FileOrBrowserScheduling(config, log)


def unit_seconds(item: pytest.Item) -> float:
    """About how long the item's unit takes in a full run here: the browser tests as one unit,
    or a file marked `slow(seconds)`; 0 for the rest."""
    if in_browser_folder(item):
        return BROWSER_UNIT_SECONDS
    marker = item.get_closest_marker("slow")
    return float(marker.args[0]) if marker else 0.0


# The browser tests together, in a full run on these machines (scripts/test prints durations).
BROWSER_UNIT_SECONDS = 235


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Units are handed out in the collected order (scripts/test: --no-loadscope-reorder), and
    # the machine's two cores are busy throughout. Whatever starts last decides when the run
    # ends: a unit of four minutes handed out near the end kept one worker going while the
    # others sat idle. So the longest units go first (longest first is the classic rule for
    # this), the rest keep their order; the sort is stable.
    items.sort(key=lambda item: -unit_seconds(item))


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
