"""Workspace tests: a private sandbox instance on the real engine (removed after each test), and
the student's terminal-side view of their files through engine.run, as `cat` in a shell sees it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sandbox.terminals import owner_key


@pytest.fixture(autouse=True)
def _own_sandbox_instance(settings: Any) -> None:
    # Our own instance label: other runs on this engine never reap ours, and we remove only ours.
    settings.SANDBOX_INSTANCE = f"test-workspace-{secrets.token_hex(4)}"
    settings.SANDBOX_WARM_POOL = 0
    settings.DOCKER_GATEWAY_ENABLED = False


@pytest.fixture
async def remove_sandboxes(transactional_db: None) -> AsyncIterator[None]:
    from sandbox import engine

    yield
    await engine.stop_background_tasks()
    for sandbox in await engine.list_managed():
        await engine.remove_now(sandbox.container_id)


@pytest.fixture
async def sandbox(remove_sandboxes: None) -> Any:
    from sandbox import engine

    return await engine.acquire(owner_key("test:" + secrets.token_urlsafe(12)))


async def shell(sandbox: Any, command: str) -> tuple[int | None, bytes]:
    """What the student types in the terminal (a fixed test command, run by bash)."""
    from sandbox import engine

    result = await engine.run(sandbox, ["bash", "-c", command], timeout=30)
    return result.exit_code, result.output
