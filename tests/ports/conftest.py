"""The real server the preview tests of this folder go through: one per test module (each module
starts its own, so a module's students and ports never meet another's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.live_server import LiveServer
from harness.preview_client import live_server_fixture


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from live_server_fixture(tmp_path_factory)
