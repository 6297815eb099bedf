from __future__ import annotations

import asyncio
import time

import pytest

from sandbox import engine
from sandbox.models import SandboxRecord

from .conftest import exists, wait_gone

pytestmark = pytest.mark.docker


async def test_release_removes_the_container_and_its_row_in_the_background() -> None:
    sandbox = await engine.acquire("owner-release-bg")
    await engine.release(sandbox)  # returns at once; the Docker pool does the work
    assert await wait_gone(sandbox.container_id)
    assert await _row_gone(sandbox.container_id)


async def _row_gone(container_id: str, within: float = 15.0) -> bool:
    """The row goes after the container, in the same background job: poll (a bound, not a
    speed assertion)."""
    rows = SandboxRecord.objects.filter(container_id=container_id)
    deadline = time.monotonic() + within
    while await rows.aexists():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def test_releasing_twice_is_harmless() -> None:
    sandbox = await engine.acquire("owner-release-twice")
    await engine.release(sandbox)
    await engine.release(sandbox)
    assert await wait_gone(sandbox.container_id)
    assert not exists(sandbox.container_id)
