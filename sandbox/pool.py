"""The warm pool: started, unassigned sandboxes so the first prompt comes fast.

A warm container is handed out once: it becomes its owner's (renamed after them) and never goes
back to the pool; released sandboxes are removed. Each one started by this process has its
terminal's login shell running already (sandbox/warm_shells.py), so a hand-out costs a claim and
a rename, no exec.

The filler tops the pool up in the background and never takes a slot someone is queueing for.
It refills in proportion to what was taken (everything missing, several at once), but only once
the demand has paused: while a burst of students is still taking warm sandboxes, or any student's
own sandbox is being started, start-ups for the pool would take the CPU those students are
waiting on (docs/reliability.md, «Warm pool under a burst, and arrivals»).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from sandbox import capacity, sandboxes
from sandbox.docker_api.client import EngineUnavailable, SandboxGone
from sandbox.loop_state import PerLoop
from sandbox.models import SandboxRecord

logger = logging.getLogger(__name__)

# After an error (engine down, image missing) wait this long before trying again.
BACKOFF_SECONDS = 15.0

# The filler refills once hand-outs have paused this long (a burst of a class arrives within a
# second or two; its hand-outs then take a few milliseconds each).
SETTLE_SECONDS = 0.5
# While students' own sandboxes start (or wait in line), look again this often.
BUSY_RECHECK_SECONDS = 0.25

# Set after every take: the filler tops the pool up once the takes pause.
_wakeups: PerLoop[asyncio.Event] = PerLoop(asyncio.Event)
# When this loop last handed a warm sandbox out (time.monotonic()).
_last_take: PerLoop[list[float]] = PerLoop(lambda: [-1e9])


def refill_soon() -> None:
    _last_take.get()[0] = time.monotonic()
    _wakeups.get().set()


def parallel_starts() -> int:
    """How many warm sandboxes the filler starts at once: half the Docker threads (4 by
    default), so hand-outs and terminals always find threads free."""
    return max(1, settings.SANDBOX_DOCKER_THREADS // 2)


async def until_quiet() -> None:
    """Returns once no warm sandbox was taken for SETTLE_SECONDS and no student's sandbox is
    being started or waiting for a slot."""
    cap = capacity.get()
    while True:
        since = time.monotonic() - _last_take.get()[0]
        if since < SETTLE_SECONDS:
            await asyncio.sleep(SETTLE_SECONDS - since)
        elif cap.students_waiting():
            await asyncio.sleep(BUSY_RECHECK_SECONDS)
        else:
            return


def _warm_rows() -> object:
    oldest = timezone.now() - timedelta(seconds=settings.SANDBOX_MAX_LIFETIME)
    return SandboxRecord.objects.filter(
        instance=settings.SANDBOX_INSTANCE, state=SandboxRecord.State.POOL, created_at__gt=oldest
    )


async def size() -> int:
    return await _warm_rows().acount()  # type: ignore[attr-defined]


def _claim(owner: str, session: str) -> SandboxRecord | None:
    """Claims the oldest warm row for `owner` (blocking; one short transaction per try).

    The conditional update is the claim: two takers can't both win one row. Where the database
    can lock rows (PostgreSQL), candidates locked by another taker are skipped, so a burst of
    students claims different rows at once; elsewhere (SQLite serialises writes) a taker that
    lost a row simply tries the next one. Each lost try means another taker won a row, so the
    loop ends as soon as no warm row is left."""
    lock_rows = connection.features.has_select_for_update_skip_locked
    while True:
        # SQLite: no transaction around the two statements (a reader upgrading to a writer can
        # fail with "database is locked" when another process writes); the update decides.
        with transaction.atomic() if lock_rows else contextlib.nullcontext():
            candidates = _warm_rows().order_by("created_at")  # type: ignore[attr-defined]
            if lock_rows:
                candidates = candidates.select_for_update(skip_locked=True)
            row = candidates.first()
            if row is None:
                return None
            now = timezone.now()
            expires = now + timedelta(seconds=settings.SANDBOX_MAX_LIFETIME)
            # The new name too: one write per hand-out (a burst's writes queue on one thread).
            name = sandboxes.owned_name(row.name, owner)
            claimed = SandboxRecord.objects.filter(
                pk=row.pk, state=SandboxRecord.State.POOL
            ).update(
                state=SandboxRecord.State.LIVE,
                name=name,
                owner=owner,
                session=session,
                assigned_at=now,
                last_activity=now,
                expires_at=expires,
                holder=sandboxes.BOOT_ID,
                heartbeat_at=now,
            )
        if claimed:
            row.state, row.owner, row.session = SandboxRecord.State.LIVE, owner, session
            row.name = name
            row.assigned_at = row.last_activity = row.heartbeat_at = now
            row.expires_at, row.holder = expires, sandboxes.BOOT_ID
            return row


async def take(owner: str, session: str) -> sandboxes.Sandbox | None:
    """Claims a warm sandbox for `owner`, or None when the pool is empty. Called by
    leases.acquire with the owner's lock held."""
    if settings.SANDBOX_WARM_POOL <= 0:
        return None
    # Bounded only against warm containers that keep dying: contention never ends the search.
    for _attempt in range(max(8, 2 * settings.SANDBOX_WARM_POOL)):
        row = await sync_to_async(_claim)(owner, session)
        if row is None:
            return None
        refill_soon()
        try:
            name = await sandboxes.assign(row)
        except SandboxGone:
            # Dead, or without a gateway folder: never handed out. (Not end_gateway: we hold the
            # owner's lock, and the owner's next sandbox comes from this same call.)
            await sandboxes.remove_now(row.container_id, end_gateway_of="")
            continue
        except BaseException:
            sandboxes.schedule_removal(row.container_id)  # claimed but never handed out
            raise
        return sandboxes.Sandbox(
            container_id=row.container_id,
            owner=owner,
            created_at=row.assigned_at or timezone.now(),
            expires_at=row.expires_at,
            name=name,
            fresh=True,
        )
    return None


async def fill_once() -> int:
    """Starts the warm sandboxes missing, up to parallel_starts() at a time, until the pool is
    full, capacity says no, or a student's sandbox starts (theirs first); returns how many."""
    started = 0
    cap = capacity.get()
    while not cap.students_waiting():
        missing = settings.SANDBOX_WARM_POOL - await size()
        reserved = 0
        while reserved < min(missing, parallel_starts()) and await cap.try_reserve():
            reserved += 1
        if not reserved:
            break
        results = await asyncio.gather(
            *(_start_reserved(cap) for _ in range(reserved)), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        started += reserved - len(failures)
        if failures:
            raise failures[0]
    return started


async def _start_reserved(cap: capacity.Capacity) -> None:
    try:
        await sandboxes.create(owner="", session="", pool=True)
    finally:
        cap.unreserve()


async def keep_filled() -> None:
    """Background task (background.ensure_background_tasks): refill once the takes pause, and
    check every SANDBOX_REAP_INTERVAL seconds."""
    if settings.SANDBOX_WARM_POOL <= 0:
        return
    wakeup = _wakeups.get()
    while True:
        wait = float(settings.SANDBOX_REAP_INTERVAL)
        wakeup.clear()  # before filling: a take meanwhile wakes the next round
        try:
            await until_quiet()
            await fill_once()
            if capacity.get().students_waiting():
                wait = BUSY_RECHECK_SECONDS  # stopped for them: go on once they are served
        except asyncio.CancelledError:
            raise
        except EngineUnavailable as exc:
            logger.warning("warm pool not filled: %s", exc.message)
            wait = BACKOFF_SECONDS
        except Exception:
            logger.exception("warm pool not filled")
            wait = BACKOFF_SECONDS
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), wait)
