from __future__ import annotations

import asyncio

import pytest

from sandbox import engine

from .conftest import until

pytestmark = pytest.mark.docker


async def test_when_full_callers_queue_in_order_and_are_served_as_slots_free(settings) -> None:
    settings.SANDBOX_MAX_LIVE = 1
    first = await engine.acquire("owner-cap-1")

    with pytest.raises(engine.CapacityFull) as full:
        await engine.acquire("owner-cap-x")  # no on_queue: told at once, never silently
    assert "en uso" in full.value.message

    positions: dict[str, list[int]] = {"2": [], "3": []}

    def reporter(key: str):  # noqa: ANN202
        async def on_queue(position: int) -> None:
            positions[key].append(position)

        return on_queue

    second = asyncio.create_task(engine.acquire("owner-cap-2", on_queue=reporter("2")))
    assert await until(lambda: positions["2"] == [1])
    third = asyncio.create_task(engine.acquire("owner-cap-3", on_queue=reporter("3")))
    assert await until(lambda: positions["3"] == [2])
    assert not second.done() and not third.done()

    await engine.release(first)
    served = await asyncio.wait_for(second, 30)
    assert served.owner == "owner-cap-2"
    assert await until(lambda: positions["3"] == [2, 1])
    assert not third.done()

    await engine.release(served)
    last = await asyncio.wait_for(third, 30)
    assert last.owner == "owner-cap-3"
    assert positions == {"2": [1], "3": [2, 1]}


async def test_a_queued_caller_who_leaves_gives_up_the_place(settings) -> None:
    settings.SANDBOX_MAX_LIVE = 1
    first = await engine.acquire("owner-leave-1")
    seen: list[int] = []

    async def on_queue(position: int) -> None:
        seen.append(position)

    leaver = asyncio.create_task(engine.acquire("owner-leave-2", on_queue=on_queue))
    assert await until(lambda: seen == [1])
    stayer = asyncio.create_task(engine.acquire("owner-leave-3", on_queue=on_queue))
    assert await until(lambda: seen == [1, 2])
    leaver.cancel()
    assert await until(lambda: seen == [1, 2, 1])
    await engine.release(first)
    assert (await asyncio.wait_for(stayer, 30)).owner == "owner-leave-3"
