from __future__ import annotations

import asyncio

import pytest

from sandbox import engine

pytestmark = pytest.mark.docker


async def test_acquiring_twice_gives_the_same_container() -> None:
    first = await engine.acquire("owner-twice")
    second = await engine.acquire("owner-twice")
    assert second.container_id == first.container_id
    assert (await engine.get("owner-twice")) == first


async def test_concurrent_acquires_of_one_owner_make_one_container() -> None:
    results = await asyncio.gather(*(engine.acquire("owner-concurrent") for _ in range(4)))
    assert len({sandbox.container_id for sandbox in results}) == 1
    assert len([s for s in await engine.list_managed() if s.owner == "owner-concurrent"]) == 1


async def test_different_owners_get_different_containers() -> None:
    mine = await engine.acquire("owner-a")
    yours = await engine.acquire("owner-b")
    assert mine.container_id != yours.container_id


async def test_after_release_the_owner_gets_a_fresh_container() -> None:
    first = await engine.acquire("owner-release")
    await engine.release(first)
    assert await engine.get("owner-release") is None
    second = await engine.acquire("owner-release")
    assert second.container_id != first.container_id


async def test_a_dead_sandbox_is_replaced() -> None:
    first = await engine.acquire("owner-dead")
    engine.call_sync(lambda api: api.kill(first.container_id))
    second = await engine.acquire("owner-dead")
    assert second.container_id != first.container_id
    assert (await engine.state(second)).running


async def test_a_second_owner_of_one_session_is_refused_beyond_the_cap() -> None:
    await engine.acquire("owner-lesson-1", session="session-x")
    with pytest.raises(engine.SessionLimitReached) as refused:
        await engine.acquire("owner-lesson-2", session="session-x")
    assert "máximo por persona" in refused.value.message
