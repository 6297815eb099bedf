"""Per-owner locks are kept only while someone holds or waits for them: a server that has seen
many students does not keep a lock for each (the registry shrinks back to nothing)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from sandbox import engine, sandboxes
from sandbox.owner_locks import OwnerLocks


async def test_the_registry_shrinks_back_after_owners_leave() -> None:
    locks = OwnerLocks()
    inside: dict[str, int] = {}
    most_inside: dict[str, int] = {}

    async def use(owner: str) -> None:
        async with locks.hold(owner):
            inside[owner] = inside.get(owner, 0) + 1
            most_inside[owner] = max(most_inside.get(owner, 0), inside[owner])
            await asyncio.sleep(0)  # let the others queue up behind this holder
            inside[owner] -= 1

    await asyncio.gather(*(use(f"owner-{i % 5}") for i in range(40)))
    assert most_inside == {f"owner-{i}": 1 for i in range(5)}  # one holder at a time
    assert len(locks) == 0


async def test_an_owner_is_busy_while_held_and_forgotten_after_an_error() -> None:
    locks = OwnerLocks()
    with contextlib.suppress(RuntimeError):
        async with locks.hold("owner-error"):
            assert locks.busy("owner-error")
            assert not locks.busy("someone-else")
            assert len(locks) == 1
            raise RuntimeError("the body failed")
    assert not locks.busy("owner-error")
    assert len(locks) == 0


async def test_a_waiter_that_gives_up_is_forgotten_too() -> None:
    locks = OwnerLocks()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold("owner-wait"):
            await release.wait()

    async def waiter() -> None:
        async with locks.hold("owner-wait"):
            pass

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    assert locks.busy("owner-wait") and not waiting.done()
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    assert len(locks) == 1  # the holder is still there
    release.set()
    await held
    assert len(locks) == 0


@pytest.mark.docker
async def test_acquire_and_release_leave_no_owner_lock_behind() -> None:
    async with sandboxes.owner_lock("owner-locks-held"):
        assert sandboxes.owner_busy("owner-locks-held")
        assert sandboxes.owner_locks_held() == 1
    owners = [f"owner-locks-{i}" for i in range(3)]
    got = await asyncio.gather(*(engine.acquire(owner) for owner in owners))
    assert len({sandbox.container_id for sandbox in got}) == 3
    assert sandboxes.owner_locks_held() == 0
    for sandbox in got:
        await engine.release(sandbox)  # ends the owner's gateway under their lock
    assert sandboxes.owner_locks_held() == 0
    assert not any(sandboxes.owner_busy(owner) for owner in owners)
