"""Many timeouts on one timer (sandbox/deadlines.py), on a real event loop: each callback fires
once, in the order of the deadlines, never after it was discarded, and a deadline added
earlier than the one the timer is set for is not kept waiting behind it. The assertions are on
what fired and in which order, never on how long anything took."""

from __future__ import annotations

import asyncio
import time

from sandbox.deadlines import Deadlines


class _Recording:
    """Deadlines whose callbacks write down their name; `last` marks the one to wait for."""

    def __init__(self) -> None:
        self.deadlines = Deadlines()
        self.fired: list[str] = []
        self._last = asyncio.Event()

    def add(self, key: str, seconds: float, name: str = "", *, last: bool = False) -> None:
        def fire() -> None:
            self.fired.append(name or key)
            if last:
                self._last.set()

        self.deadlines.add(key, seconds, fire)

    async def until_last(self) -> None:
        await asyncio.wait_for(self._last.wait(), 10)


async def test_callbacks_fire_once_in_the_order_of_their_deadlines():
    record = _Recording()
    record.add("tarde", 0.15, last=True)
    # Added after, due before: the timer, set for "tarde", is set again for this one.
    record.add("pronto", 0.01)
    record.add("medio", 0.05)
    await record.until_last()
    await asyncio.sleep(0.05)  # anything firing twice would have done so by now
    assert record.fired == ["pronto", "medio", "tarde"]


async def test_a_discarded_deadline_never_fires_and_the_rest_still_do():
    record = _Recording()
    record.add("quitado", 0.01)
    record.add("queda", 0.08, last=True)
    record.deadlines.discard("quitado")
    record.deadlines.discard("nunca puesto")  # nothing to discard: no error
    # The timer was set for the discarded one: it finds nothing due and sets itself again.
    await record.until_last()
    assert record.fired == ["queda"]


async def test_adding_a_key_again_moves_its_deadline():
    record = _Recording()
    record.add("cabecera", 0.01, "primera")
    record.add("cabecera", 0.1, "segunda", last=True)
    record.add("otro", 0.03)
    await record.until_last()
    assert record.fired == ["otro", "segunda"]


async def test_a_deadline_a_callback_adds_does_not_hold_back_an_earlier_one():
    record = _Recording()

    def first() -> None:
        record.fired.append("primero")
        record.add("mucho después", 1.0)  # sets the timer for itself, during the firing

    record.deadlines.add("primero", 0.01, first)
    record.add("segundo", 0.05, last=True)
    await record.until_last()
    # Held back, "segundo" would have fired only with "mucho después", right before it.
    assert record.fired == ["primero", "segundo"]


async def test_a_failing_callback_does_not_stop_the_others():
    record = _Recording()

    def fails() -> None:
        record.fired.append("falla")
        raise RuntimeError("un error en una llamada")

    record.deadlines.add("falla", 0.01, fails)
    record.add("a la vez", 0.01)
    record.add("después", 0.05, last=True)
    await record.until_last()
    assert record.fired == ["falla", "a la vez", "después"]


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


async def test_a_late_timer_fires_what_is_due_earliest_first():
    record = _Recording()
    record.add("tercero", 0.03, last=True)
    record.add("primero", 0.01)
    record.add("segundo", 0.02)
    time.sleep(0.1)  # a busy loop: when the timer runs, all three are due at once
    await record.until_last()
    assert record.fired == ["primero", "segundo", "tercero"]
