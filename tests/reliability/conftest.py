"""Reliability tests: hostile input, faults and abuse against the real engine and the real app.

Reuses the terminal tests' tab driver and fixtures (imported, not copied) under this folder's own
SANDBOX_INSTANCE, and removes every container of that instance after each Docker test."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.live_server import LiveServer, remove_containers
from tests.terminal.conftest import open_tab, remove_instance_containers, session_key

__all__ = ["open_tab", "session_key"]

TEST_INSTANCE = f"pytest-reliability-{os.getpid()}"


@pytest.fixture(autouse=True)
def reliability_settings(settings: Any) -> Iterator[Any]:
    settings.SANDBOX_INSTANCE = TEST_INSTANCE
    settings.SANDBOX_WARM_POOL = 0
    settings.SANDBOX_MAX_LIVE = 10
    yield settings


@pytest.fixture(autouse=True)
def remove_reliability_containers(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if request.node.get_closest_marker("docker"):
        remove_instance_containers(TEST_INSTANCE)


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """live(**env) -> the real server (python -m tutorial.server) started with `env` added; every
    one is stopped and its containers removed after the test."""
    servers: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        db = tmp_path / f"db{len(servers)}.sqlite3"
        server = LiveServer(db, f"pytest-edge-{os.getpid()}-{time.monotonic_ns()}", **env)
        server.migrate()  # a copy of this process's first migrated database
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)
        server.stop()
        remove_containers(server.instance)
