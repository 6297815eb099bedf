"""The warm pool under demand (sandbox/pool.py): what was taken is replaced several at a time,
never while students are arriving, and a refill cut short leaves no container behind."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sandbox import capacity, engine, pool, sandboxes, warm_shells
from sandbox.models import SandboxRecord

from .conftest import TEST_INSTANCE, _containers_of, eventually

pytestmark = pytest.mark.docker


class Concurrency:
    """Wraps the real sandboxes.create (nothing replaced): how many pool starts overlap."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = self.most = self.pool_starts = 0
        self.first_started = asyncio.Event()
        real = sandboxes.create

        async def create(**kwargs: Any) -> sandboxes.Sandbox:
            if kwargs.get("pool"):
                self.pool_starts += 1
                self.now += 1
                self.most = max(self.most, self.now)
                self.first_started.set()
            try:
                return await real(**kwargs)
            finally:
                if kwargs.get("pool"):
                    self.now -= 1

        monkeypatch.setattr(sandboxes, "create", create)


async def warm_count() -> int:
    return await pool.size()


async def test_what_a_class_took_is_replaced_several_at_a_time(settings, monkeypatch) -> None:
    settings.SANDBOX_WARM_POOL = 6
    settings.SANDBOX_DOCKER_THREADS = 8
    settings.SANDBOX_MAX_LIVE = 14
    assert pool.parallel_starts() == 4
    assert await pool.fill_once() == 6
    starts = Concurrency(monkeypatch)

    # A class of six arrives at once and takes the whole pool.
    taken = await asyncio.gather(*(engine.acquire(f"owner-class-{i}") for i in range(6)))
    assert await warm_count() == 0
    assert starts.pool_starts == 0  # nothing was started while they arrived

    # The filler (started by acquire) replaces all six, four at once, then two.
    assert await eventually(lambda: _is(warm_count, 6), within=120)
    assert starts.pool_starts == 6
    assert starts.most == 4
    for sandbox in taken:
        await engine.release(sandbox)


async def _is(count: Any, n: int) -> bool:
    return await count() == n


async def test_the_filler_holds_back_while_a_student_arrives(settings) -> None:
    settings.SANDBOX_WARM_POOL = 2
    cap = capacity.get()
    async with cap.arrival():
        assert cap.students_waiting()
        assert await pool.fill_once() == 0  # their start-up first
        quiet = asyncio.ensure_future(pool.until_quiet())
        await asyncio.sleep(pool.SETTLE_SECONDS + 2 * pool.BUSY_RECHECK_SECONDS)
        assert not quiet.done()
    await asyncio.wait_for(quiet, 10)  # a bound, not a speed assertion
    assert await pool.fill_once() == 2
    assert warm_shells.kept() >= 2


async def test_a_refill_cut_short_leaves_no_container_behind(settings, monkeypatch) -> None:
    # A shutdown cancels the filler in the middle of a parallel refill: every container it had
    # started (each with its shell) is either recorded in the pool or removed; none is orphaned.
    settings.SANDBOX_WARM_POOL = 4
    starts = Concurrency(monkeypatch)
    engine.ensure_background_tasks()
    await asyncio.wait_for(starts.first_started.wait(), 60)
    await asyncio.sleep(0.05)
    await engine.stop_background_tasks()

    async def settled() -> bool:
        rows = {
            cid
            async for cid in SandboxRecord.objects.filter(instance=TEST_INSTANCE).values_list(
                "container_id", flat=True
            )
        }
        on_engine = {item["Id"] for item in _containers_of(TEST_INSTANCE)}
        return on_engine == rows

    assert await eventually(settled, within=60)
    rows = [row async for row in SandboxRecord.objects.filter(instance=TEST_INSTANCE)]
    for row in rows:
        await sandboxes.remove_now(row.container_id)
    assert _containers_of(TEST_INSTANCE) == []
    assert not set(warm_shells._shells) & {row.container_id for row in rows}  # sockets closed
