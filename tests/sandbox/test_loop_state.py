"""PerLoop keeps one value per event loop (asyncio objects belong to one loop) and lets a loop's
value go with the loop."""

from __future__ import annotations

import asyncio
import gc

from sandbox.loop_state import PerLoop


def test_each_loop_gets_its_own_value_made_once() -> None:
    state: PerLoop[asyncio.Event] = PerLoop(asyncio.Event)

    async def twice() -> tuple[asyncio.Event, asyncio.Event, asyncio.Event | None]:
        before = state.peek()
        return state.get(), state.get(), before

    first_a, first_b, before = asyncio.run(twice())
    second_a, _second_b, _ = asyncio.run(twice())
    assert before is None  # peek() made nothing
    assert first_a is first_b
    assert second_a is not first_a


def test_pop_and_replace_act_on_the_running_loop_only() -> None:
    state: PerLoop[list[int]] = PerLoop(list)

    async def scenario() -> tuple[list[int] | None, list[int], list[int] | None]:
        state.replace([1, 2])
        taken = state.pop()
        fresh = state.get()
        return taken, fresh, state.pop()

    taken, fresh, last = asyncio.run(scenario())
    assert taken == [1, 2]
    assert fresh == [] and last is fresh


def test_a_loop_that_is_gone_takes_its_value_with_it() -> None:
    state: PerLoop[asyncio.Lock] = PerLoop(asyncio.Lock)

    async def use() -> None:
        async with state.get():
            assert len(state.items()) == 1

    loop = asyncio.new_event_loop()
    loop.run_until_complete(use())
    loop.close()
    del loop
    gc.collect()
    assert state.items() == []
