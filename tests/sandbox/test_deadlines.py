"""Many timeouts on one timer (sandbox/deadlines.py), on a real event loop: each callback fires
once, in the order of the deadlines, never after it was discarded, and a deadline added
earlier than the one the timer is set for is not kept waiting behind it. The assertions are on
what fired and in which order, never on how long anything took."""

from __future__ import annotations

import asyncio

from sandbox.deadlines import Deadlines


async def test_callbacks_fire_once_in_the_order_of_their_deadlines():
    deadlines = Deadlines()
    fired: list[str] = []
    last = asyncio.Event()
    deadlines.add("tarde", 0.15, lambda: (fired.append("tarde"), last.set()))
    # Added after, due before: the timer, set for "tarde", is set again for this one.
    deadlines.add("pronto", 0.01, lambda: fired.append("pronto"))
    deadlines.add("medio", 0.05, lambda: fired.append("medio"))
    await asyncio.wait_for(last.wait(), 10)
    await asyncio.sleep(0.05)  # anything firing twice would have done so by now
    assert fired == ["pronto", "medio", "tarde"]


async def test_a_discarded_deadline_never_fires_and_the_rest_still_do():
    deadlines = Deadlines()
    fired: list[str] = []
    last = asyncio.Event()
    deadlines.add("quitado", 0.01, lambda: fired.append("quitado"))
    deadlines.add("queda", 0.08, lambda: (fired.append("queda"), last.set()))
    deadlines.discard("quitado")
    deadlines.discard("nunca puesto")  # nothing to discard: no error
    # The timer was set for the discarded one: it finds nothing due and sets itself again.
    await asyncio.wait_for(last.wait(), 10)
    assert fired == ["queda"]


async def test_adding_a_key_again_moves_its_deadline():
    deadlines = Deadlines()
    fired: list[str] = []
    last = asyncio.Event()
    deadlines.add("cabecera", 0.01, lambda: fired.append("primera"))
    deadlines.add("cabecera", 0.1, lambda: (fired.append("segunda"), last.set()))
    deadlines.add("otro", 0.03, lambda: fired.append("otro"))
    await asyncio.wait_for(last.wait(), 10)
    assert fired == ["otro", "segunda"]


async def test_a_callback_may_add_the_next_deadline():
    deadlines = Deadlines()
    fired: list[int] = []
    last = asyncio.Event()

    def again() -> None:
        fired.append(len(fired))
        if len(fired) < 3:
            deadlines.add("vuelta", 0.01, again)
        else:
            last.set()

    deadlines.add("vuelta", 0.01, again)
    await asyncio.wait_for(last.wait(), 10)
    assert fired == [0, 1, 2]
