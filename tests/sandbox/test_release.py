from __future__ import annotations

import pytest

from sandbox import engine
from sandbox.models import SandboxRecord

from .conftest import exists, wait_gone

pytestmark = pytest.mark.docker


async def test_release_removes_the_container_and_its_row_in_the_background() -> None:
    sandbox = await engine.acquire("owner-release-bg")
    await engine.release(sandbox)  # returns at once; the Docker pool does the work
    assert await wait_gone(sandbox.container_id)
    assert not await SandboxRecord.objects.filter(container_id=sandbox.container_id).aexists()


async def test_releasing_twice_is_harmless() -> None:
    sandbox = await engine.acquire("owner-release-twice")
    await engine.release(sandbox)
    await engine.release(sandbox)
    assert await wait_gone(sandbox.container_id)
    assert not exists(sandbox.container_id)
