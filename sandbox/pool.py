"""The warm pool: a few started, unassigned sandboxes so the first prompt comes fast.

A warm container is handed out once: it becomes its owner's (renamed after them) and never goes
back to the pool; released sandboxes are removed. The filler tops the pool up in the background
and never takes a slot someone is queueing for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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

# Set after every take: the filler tops the pool up at once.
_wakeups: PerLoop[asyncio.Event] = PerLoop(asyncio.Event)


def refill_soon() -> None:
    _wakeups.get().set()


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
            claimed = SandboxRecord.objects.filter(
                pk=row.pk, state=SandboxRecord.State.POOL
            ).update(
                state=SandboxRecord.State.LIVE,
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
        )
    return None


async def fill_once() -> int:
    """Starts warm sandboxes until the pool is full (or capacity says no); returns how many."""
    started = 0
    cap = capacity.get()
    while await size() < settings.SANDBOX_WARM_POOL:
        if not await cap.try_reserve():
            break
        try:
            await sandboxes.create(owner="", session="", pool=True)
            started += 1
        finally:
            cap.unreserve()
    return started


async def keep_filled() -> None:
    """Background task (background.ensure_background_tasks): refill after every take, and check
    every SANDBOX_REAP_INTERVAL seconds."""
    if settings.SANDBOX_WARM_POOL <= 0:
        return
    wakeup = _wakeups.get()
    while True:
        wait = float(settings.SANDBOX_REAP_INTERVAL)
        try:
            await fill_once()
        except asyncio.CancelledError:
            raise
        except EngineUnavailable as exc:
            logger.warning("warm pool not filled: %s", exc.message)
            wait = BACKOFF_SECONDS
        except Exception:
            logger.exception("warm pool not filled")
            wait = BACKOFF_SECONDS
        wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), wait)
