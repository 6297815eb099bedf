"""The warm pool: a few started, unassigned sandboxes so the first prompt comes fast.

A warm container is handed out once: it becomes its owner's (renamed after them) and never goes
back to the pool; released sandboxes are removed. The filler tops the pool up in the background
and never takes a slot someone is queueing for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from sandbox import capacity, engine
from sandbox.models import Sandbox as SandboxRow

logger = logging.getLogger(__name__)

# After an error (engine down, image missing) wait this long before trying again.
BACKOFF_SECONDS = 15.0

_wakeups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = (
    weakref.WeakKeyDictionary()
)


def _wakeup() -> asyncio.Event:
    loop = asyncio.get_running_loop()
    event = _wakeups.get(loop)
    if event is None:
        event = _wakeups[loop] = asyncio.Event()
    return event


def refill_soon() -> None:
    _wakeup().set()


def _warm_rows() -> object:
    oldest = timezone.now() - timedelta(seconds=settings.SANDBOX_MAX_LIFETIME)
    return SandboxRow.objects.filter(
        instance=settings.SANDBOX_INSTANCE, state=SandboxRow.State.POOL, created_at__gt=oldest
    )


async def size() -> int:
    return await _warm_rows().acount()  # type: ignore[attr-defined]


async def take(owner: str, session: str) -> engine.Sandbox | None:
    """Claims a warm sandbox for `owner`, or None when the pool is empty."""
    if settings.SANDBOX_WARM_POOL <= 0:
        return None
    for _attempt in range(3):
        row = await _warm_rows().order_by("created_at").afirst()  # type: ignore[attr-defined]
        if row is None:
            return None
        now = timezone.now()
        expires = now + timedelta(seconds=settings.SANDBOX_MAX_LIFETIME)
        # The conditional update is the claim: two takers can't both win the same row.
        claimed = await SandboxRow.objects.filter(pk=row.pk, state=SandboxRow.State.POOL).aupdate(
            state=SandboxRow.State.LIVE,
            owner=owner,
            session=session,
            assigned_at=now,
            last_activity=now,
            expires_at=expires,
            holder=engine.BOOT_ID,
            heartbeat_at=now,
        )
        if not claimed:
            continue
        refill_soon()
        row.owner = owner
        try:
            name = await engine.assign(row)
        except engine.SandboxGone:
            await engine.remove_now(row.container_id)
            continue
        return engine.Sandbox(
            container_id=row.container_id,
            owner=owner,
            created_at=now,
            expires_at=expires,
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
            await engine.create(owner="", session="", pool=True)
            started += 1
        finally:
            cap.unreserve()
    return started


async def keep_filled() -> None:
    """Background task (engine.ensure_background_tasks): refill after every take, and check
    every SANDBOX_REAP_INTERVAL seconds."""
    if settings.SANDBOX_WARM_POOL <= 0:
        return
    wakeup = _wakeup()
    while True:
        wait = float(settings.SANDBOX_REAP_INTERVAL)
        try:
            await fill_once()
        except asyncio.CancelledError:
            raise
        except engine.EngineUnavailable as exc:
            logger.warning("warm pool not filled: %s", exc.message)
            wait = BACKOFF_SECONDS
        except Exception:
            logger.exception("warm pool not filled")
            wait = BACKOFF_SECONDS
        wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), wait)
