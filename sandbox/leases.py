"""Handing sandboxes out to students: one live sandbox per owner, reused while it lasts, taken
from the warm pool or started new within the server's capacity (in line when it is full).

    sandbox = await acquire(owner, session=..., on_queue=...)   # reuse, warm pool, or new
    await touch(sandbox)      # activity (idle timeout)
    await expiry(sandbox)     # idle and lifetime deadlines
    await release(sandbox)    # removal scheduled; the owner's gateway ends with their last one
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from sandbox import capacity, placement, pool, sandboxes
from sandbox import gateway as docker_gateway
from sandbox.background import ensure_background_tasks
from sandbox.docker_api import containers as docker_containers
from sandbox.docker_api.client import EngineUnavailable, call
from sandbox.models import SandboxRecord
from sandbox.sandboxes import Sandbox


class SessionLimitReached(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Expiry:
    idle_at: datetime
    lifetime_at: datetime

    @property
    def reason(self) -> str:
        return "idle" if self.idle_at < self.lifetime_at else "lifetime"

    @property
    def at(self) -> datetime:
        return min(self.idle_at, self.lifetime_at)


async def acquire(
    owner: str,
    *,
    session: str | None = None,
    on_queue: Callable[[int], Awaitable[None]] | None = None,
) -> Sandbox:
    """Reuses the owner's live sandbox, or takes one from the warm pool, or starts one. When the
    global cap is reached: without on_queue raise CapacityFull at once; with on_queue wait FIFO,
    calling on_queue(position) whenever the position changes (1 = next)."""
    if not owner:
        raise ValueError("owner must be a non-empty key")
    if not settings.SANDBOX_ENABLED:
        raise EngineUnavailable(
            _("Los entornos de práctica están desactivados (SANDBOX_ENABLED=0).")
        )
    ensure_background_tasks()
    session = session or owner
    # capacity.arrival: the warm-pool filler waits while students arrive (their start-ups first).
    async with capacity.get().arrival(), sandboxes.owner_lock(owner):
        current = await _reusable(owner)
        if current is not None:
            return current
        others = await (
            SandboxRecord.objects.filter(
                instance=settings.SANDBOX_INSTANCE,
                session=session,
                state=SandboxRecord.State.LIVE,
            )
            .exclude(owner=owner)
            .acount()
        )
        if others >= settings.SANDBOX_MAX_PER_SESSION:
            raise SessionLimitReached(
                _(
                    "Ya tienes %(n)d entornos de práctica abiertos, el máximo por persona. Cierra "
                    "alguno y vuelve a intentarlo."
                )
                % {"n": others}
            )
        warm = await pool.take(owner, session)
        if warm is not None:
            return warm
        async with capacity.get().slot(on_queue):
            return await sandboxes.create(owner=owner, session=session, pool=False)


async def _reusable(owner: str) -> Sandbox | None:
    row = await sandboxes.live_row(owner)
    if row is None:
        return None
    now = timezone.now()
    if sandboxes.expired(row, now):
        sandboxes.schedule_removal(row.container_id)
        return None
    if await placement.move_reason(row.container_id, owner) is not None:
        # Its node died or is drained: a new sandbox elsewhere; the terminal says why.
        sandboxes.schedule_removal(row.container_id)
        return None
    running, folder = await call(docker_containers.gateway_label, row.container_id)
    if not running or (settings.DOCKER_GATEWAY_ENABLED and not folder):
        # (Without a gateway folder it predates the gateway being switched on: a new one.)
        sandboxes.schedule_removal(row.container_id)
        return None
    if settings.DOCKER_GATEWAY_ENABLED:
        # Idempotent; after a restart of the server this serves the student's socket again.
        await docker_gateway.open_gateway(
            owner, folder=docker_gateway.socket_dir(owner).parent / folder
        )
    # Adopt it: after a restart of the server the owner's sandbox carries on here.
    await SandboxRecord.objects.filter(pk=row.pk).aupdate(
        holder=sandboxes.BOOT_ID, heartbeat_at=now
    )
    return sandboxes.to_sandbox(row)


async def get(owner: str) -> Sandbox | None:
    """The owner's live sandbox, if any."""
    row = await sandboxes.live_row(owner)
    if row is None or sandboxes.expired(row, timezone.now()):
        return None
    return sandboxes.to_sandbox(row)


async def touch(sandbox: Sandbox) -> None:
    now = timezone.now()
    await SandboxRecord.objects.filter(
        container_id=sandbox.container_id, state=SandboxRecord.State.LIVE
    ).aupdate(last_activity=now, heartbeat_at=now)


async def expiry(sandbox: Sandbox) -> Expiry:
    row = await SandboxRecord.objects.filter(container_id=sandbox.container_id).afirst()
    if row is None or row.state == SandboxRecord.State.RELEASING:
        now = timezone.now()
        return Expiry(idle_at=now, lifetime_at=min(now, sandbox.expires_at))
    idle_at = row.last_activity + timedelta(seconds=settings.SANDBOX_IDLE_TIMEOUT)
    return Expiry(idle_at=idle_at, lifetime_at=row.expires_at)


async def release(sandbox: Sandbox) -> None:
    """Removes the sandbox in the Docker pool (it finishes even if the caller is cut off), then
    ends the owner's Docker gateway and removes what they created, unless they already have
    another live sandbox."""
    sandboxes.schedule_removal(sandbox.container_id)
    await sandboxes.end_gateway(sandbox.owner)
