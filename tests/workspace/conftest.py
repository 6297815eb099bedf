"""Workspace tests: a private sandbox instance on the real engine (removed after each test), and
the student's terminal-side view of their files through engine.run, as `cat` in a shell sees it."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.exercises import conftest as exercises_fixtures

# A sandbox of this test's instance, and every one removed after the test: the exercises' own.
remove_sandboxes = exercises_fixtures.remove_sandboxes
sandbox = exercises_fixtures.sandbox


@pytest.fixture(autouse=True)
def _own_sandbox_instance(settings: Any) -> None:
    # Our own instance label: other runs on this engine never reap ours, and we remove only ours.
    settings.SANDBOX_INSTANCE = f"test-workspace-{secrets.token_hex(4)}"
    settings.SANDBOX_WARM_POOL = 0
    settings.DOCKER_GATEWAY_ENABLED = False


async def shell(sandbox: Any, command: str) -> tuple[int | None, bytes]:
    """What the student types in the terminal (a fixed test command, run by bash)."""
    from sandbox import engine

    result = await engine.run(sandbox, ["bash", "-c", command], timeout=30)
    return result.exit_code, result.output
