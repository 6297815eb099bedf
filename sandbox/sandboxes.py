"""Sandboxes as this server keeps them: a hardened container on the engine plus its row in the
table (sandbox.models.SandboxRecord). Creating, handing a warm one out, removing, listing; the
per-owner locks and the end of an owner's Docker gateway when their last sandbox goes.

Docker inside the sandbox (settings.DOCKER_GATEWAY_ENABLED, docs/gateway.md): every sandbox gets
its own gateway folder bind-mounted read-only at DOCKER_GATEWAY_MOUNT_TARGET and DOCKER_HOST
pointing at the socket in it. A new sandbox's folder is its student's, served at once; a warm
one's is reserved empty (its name in the muelle.gateway label) and served when it is handed out;
an adopted one's (after a restart) is served again. When an owner's last sandbox ends
(release, remove_now, the reaper) their gateway stops and everything they created goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from sandbox import capacity, hardening, placement, warm_shells
from sandbox import gateway as docker_gateway
from sandbox.docker_api import containers as docker_containers
from sandbox.docker_api import execs
from sandbox.docker_api.client import SandboxGone, call, executor, in_pool
from sandbox.loop_state import PerLoop
from sandbox.models import SandboxRecord
from sandbox.owner_locks import OwnerLocks

logger = logging.getLogger(__name__)

# This server process: it holds the sandboxes it creates and keeps their heartbeat fresh.
BOOT_ID = uuid.uuid4().hex


@dataclass(frozen=True)
class Sandbox:
    container_id: str
    owner: str  # opaque owner key (hash of the browser session)
    created_at: datetime
    expires_at: datetime  # hard cap (SANDBOX_MAX_LIFETIME)
    name: str = ""  # container name, for logs
    # Just started for its owner, or a warm one just handed out: nothing of the student's has
    # run in it yet (so it has no OOM kill to count). False for one adopted or reused.
    fresh: bool = field(default=False, compare=False)


# Containers created by this process but not yet recorded in the table: not orphans.
_inflight_ids: set[str] = set()
# Warm containers this process started: their gateway folder's name ("" without the gateway),
# so a hand-out needs no inspect to find it.
_warm_folders: dict[str, str] = {}
# Containers whose removal this process scheduled: never handed out again.
_releasing: set[str] = set()
# acquire() and end_gateway() of one owner never overlap (on one event loop).
_owner_locks: PerLoop[OwnerLocks] = PerLoop(OwnerLocks)


def owner_lock(owner: str) -> AbstractAsyncContextManager[None]:
    """`async with owner_lock(owner):` — one owner's hand-out and gateway end, one at a time."""
    return _owner_locks.get().hold(owner)


def owner_busy(owner: str) -> bool:
    """True while acquire() or end_gateway() works for `owner` on this event loop (the reaper
    leaves their gateway alone meanwhile)."""
    locks = _owner_locks.peek()
    return locks is not None and locks.busy(owner)


def owner_locks_held() -> int:
    """How many owners have a lock on this event loop right now (it shrinks back to 0)."""
    locks = _owner_locks.peek()
    return len(locks) if locks is not None else 0


def to_sandbox(row: SandboxRecord) -> Sandbox:
    """The Sandbox a table row describes."""
    return Sandbox(
        container_id=row.container_id,
        owner=row.owner,
        created_at=row.created_at,
        expires_at=row.expires_at,
        name=row.name,
    )


def expired(row: SandboxRecord, now: datetime, slack: float = 0.0) -> bool:
    """A live row past its lifetime, or idle longer than SANDBOX_IDLE_TIMEOUT (+ slack)."""
    if row.state != SandboxRecord.State.LIVE:
        return False
    idle_end = row.last_activity + timedelta(seconds=settings.SANDBOX_IDLE_TIMEOUT + slack)
    return now >= row.expires_at or now >= idle_end


async def live_row(owner: str) -> SandboxRecord | None:
    """The owner's newest live row whose removal is not under way."""
    rows = SandboxRecord.objects.filter(
        instance=settings.SANDBOX_INSTANCE, owner=owner, state=SandboxRecord.State.LIVE
    ).order_by("-created_at")
    async for row in rows:
        if row.container_id not in _releasing:
            return row
    return None


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


async def create(*, owner: str, session: str, pool: bool) -> Sandbox:
    """Starts a new hardened container and records it. The caller holds a capacity slot."""
    now = timezone.now()
    expires = now + timedelta(seconds=settings.SANDBOX_MAX_LIFETIME)
    # A warm container may wait up to one lifetime before it is handed out and then lives one
    # more, so its (immutable) expiry label allows for both; the table has the real deadline.
    label_expires = expires + timedelta(seconds=settings.SANDBOX_MAX_LIFETIME) if pool else expires
    folder = None
    if settings.DOCKER_GATEWAY_ENABLED:
        # A warm container's student is not known yet: an empty folder, served on assignment.
        folder = (
            docker_gateway.reserve_folder() if pool else await docker_gateway.open_gateway(owner)
        )
    spec = hardening.new_spec(
        owner="" if pool else owner,
        created=_ts(now),
        expires=_ts(label_expires),
        pool=pool,
        gateway_folder=folder,
    )
    made = asyncio.ensure_future(placement.create_and_start(spec, _inflight_ids))
    try:
        container_id, shell = await asyncio.shield(made)
    except BaseException as exc:
        if isinstance(exc, asyncio.CancelledError):
            # Cancelled (a shutdown stops the pool filler) while the engine thread is still
            # creating the container: that thread goes on, so remove what it makes.
            await _remove_when_made(made)
        if folder is not None:
            if pool:
                docker_gateway.discard_folder(folder)
            else:
                # The caller holds the owner's lock (acquire) and the owner has no live sandbox.
                await close_gateway(owner)
        raise
    if shell is not None:
        # The first terminal's shell, on the container's own TTY (hardening.MAIN_SHELL_COMMAND):
        # kept for whoever opens that terminal, a warm sandbox's once it is handed out.
        warm_shells.keep(container_id, (None, shell))
    try:
        if pool and shell is not None:
            _warm_folders[container_id] = folder.name if folder is not None else ""
        row = await SandboxRecord.objects.acreate(
            container_id=container_id,
            name=spec.name,
            instance=settings.SANDBOX_INSTANCE,
            state=SandboxRecord.State.POOL if pool else SandboxRecord.State.LIVE,
            owner="" if pool else owner,
            session="" if pool else session,
            holder=BOOT_ID,
            heartbeat_at=now,
            created_at=now,
            assigned_at=None if pool else now,
            last_activity=now,
            expires_at=expires,
        )
    except BaseException as exc:
        warm_shells.discard(container_id)
        _warm_folders.pop(container_id, None)
        if isinstance(exc, asyncio.CancelledError):
            # Cancelled before its row exists (a shutdown stopping the filler while the row is
            # written): only this task knows the container, so it goes before the task ends, and
            # whoever waits for the cancelled task (shutdown) waits for the removal too.
            _releasing.add(container_id)
            with contextlib.suppress(BaseException):
                await asyncio.shield(in_pool(_remove_and_forget, container_id))
        else:
            schedule_removal(container_id)
        raise
    finally:
        _inflight_ids.discard(container_id)
    return replace(to_sandbox(row), fresh=not pool)


async def _remove_when_made(made: asyncio.Future[tuple[str, Any]]) -> None:
    """Waits (briefly) for a create whose caller was cancelled and removes the container it made,
    waiting for that too; if this wait is cancelled as well, the removal is left to a callback."""

    def made_id(done: asyncio.Future[tuple[str, Any]]) -> str:
        container_id, shell = done.result()
        if shell is not None:
            execs.close_stream(shell)
        _inflight_ids.discard(container_id)
        return container_id

    def remove(done: asyncio.Future[tuple[str, Any]]) -> None:
        if not done.cancelled() and done.exception() is None:
            schedule_removal(made_id(done))

    try:
        await asyncio.wait({made}, timeout=30)
    except BaseException:
        made.add_done_callback(remove)
        return
    if not made.done():
        made.add_done_callback(remove)
    elif not made.cancelled() and made.exception() is None:
        # Removed before this returns: whoever waits for the cancelled caller (a shutdown
        # stopping the pool filler, which starts several at once) waits for the removal too.
        container_id = made_id(made)
        _releasing.add(container_id)
        with contextlib.suppress(BaseException):
            await asyncio.shield(in_pool(_remove_and_forget, container_id))


def owned_name(warm_name: str, owner: str) -> str:
    """A warm container's name once `owner` has it (same random token)."""
    return hardening.container_name(warm_name.rsplit("-", 1)[-1], owner)


async def assign(row: SandboxRecord) -> str:
    """Renames a claimed warm container after its new owner (raises SandboxGone if it died, or
    has no gateway folder while the gateway is on) and serves the owner's Docker gateway in the
    folder it mounts; returns the new name, also recorded in the table."""
    name = owned_name(row.name, row.owner)
    folder = _warm_folders.pop(row.container_id, None)
    if folder is not None and warm_shells.is_alive(row.container_id):
        # Started here and its shell still runs, so the container does: no inspect, one call.
        await call(docker_containers.rename, row.container_id, name)
    else:
        folder = await call(docker_containers.rename_running, row.container_id, name)
    placement.bind_owner(row.owner, row.container_id)
    if row.name != name:  # (pool.take records the new name with the claim)
        await SandboxRecord.objects.filter(pk=row.pk).aupdate(name=name)
    if settings.DOCKER_GATEWAY_ENABLED:
        if not folder:
            raise SandboxGone(row.container_id)  # started before the gateway was switched on
        await docker_gateway.open_gateway(
            row.owner, folder=docker_gateway.socket_dir(row.owner).parent / folder
        )
    return name


async def close_gateway(owner: str) -> None:
    try:
        await docker_gateway.close_gateway(owner)
    except Exception:
        # The reaper's sweep (sweep_orphans) removes whatever was left.
        logger.warning("gateway of %s not cleaned up", owner[:8], exc_info=True)


async def end_gateway(owner: str) -> None:
    """`owner`'s sandbox is over: unless they have another live one, stop their Docker gateway
    and remove everything they created through it (containers, volumes, networks, images)."""
    if not (settings.DOCKER_GATEWAY_ENABLED and owner):
        return
    async with owner_lock(owner):
        if await live_row(owner) is None:
            await close_gateway(owner)


def _remove_container(container_id: str) -> None:
    """Blocking: removes the container, then the reserved gateway folder of a warm one nobody
    was served in (a served one stays until its student's gateway closes)."""
    warm_shells.discard(container_id)  # a shell started ahead that nobody took
    _warm_folders.pop(container_id, None)
    folder = placement.remove_sync(container_id)
    if folder:
        docker_gateway.discard_folder(folder)


def schedule_removal(container_id: str) -> None:
    """Removes a container in the Docker pool (it finishes even if the caller is cut off),
    without touching any gateway."""
    if container_id in _releasing:
        return
    _releasing.add(container_id)
    executor().submit(_remove_and_forget, container_id)


def _remove_and_forget(container_id: str) -> None:
    try:
        SandboxRecord.objects.filter(container_id=container_id).update(
            state=SandboxRecord.State.RELEASING
        )
    except Exception:
        logger.warning("could not mark sandbox %s releasing", container_id[:12], exc_info=True)
    try:
        _remove_container(container_id)
    except Exception:
        # The reaper tries again (its row says releasing, or it has no row).
        logger.warning("could not remove sandbox %s", container_id[:12], exc_info=True)
    else:
        try:
            SandboxRecord.objects.filter(container_id=container_id).delete()
        except Exception:
            logger.warning("could not forget sandbox %s", container_id[:12], exc_info=True)
    finally:
        _releasing.discard(container_id)
        close_old_connections()
        capacity.notify_threadsafe()


async def remove_now(container_id: str, *, end_gateway_of: str | None = None) -> None:
    """Removes a container and its row, waiting for it (reaper, tests), then ends its owner's
    gateway like release() does. `end_gateway_of=""` skips that (pool.take, which holds the
    owner's lock); by default the owner comes from the table."""
    _releasing.add(container_id)
    owner = end_gateway_of
    try:
        if owner is None:
            owner = await (
                SandboxRecord.objects.filter(container_id=container_id)
                .values_list("owner", flat=True)
                .afirst()
            )
        await in_pool(_remove_container, container_id)
        await SandboxRecord.objects.filter(container_id=container_id).adelete()
    finally:
        _releasing.discard(container_id)
    capacity.notify_threadsafe()
    if owner:
        await end_gateway(owner)


def is_inflight(container_id: str) -> bool:
    return container_id in _inflight_ids or container_id in _releasing


async def gateway_folders_in_use(seen: placement.Seen) -> set[str] | None:
    """The gateway folder names that containers on the engines `seen` looked at mount (any
    instance); None when an engine that may hold some did not answer."""
    return await placement.gateway_folders(seen)


async def managed_containers(*, ask_again: bool = True) -> placement.Seen:
    return await placement.managed(ask_again=ask_again)


async def list_managed() -> list[Sandbox]:
    """Every sandbox of this instance on the engine (described by its row, or its labels)."""
    containers = (await managed_containers()).containers
    rows = {
        row.container_id: row
        async for row in SandboxRecord.objects.filter(instance=settings.SANDBOX_INSTANCE)
    }
    result = []
    for item in containers:
        row = rows.get(item.id)
        if row is not None:
            result.append(to_sandbox(row))
            continue
        created = item.label_ts(hardening.LABEL_CREATED) or 0.0
        expires = item.label_ts(hardening.LABEL_EXPIRES) or 0.0
        result.append(
            Sandbox(
                container_id=item.id,
                owner=item.labels.get(hardening.LABEL_OWNER, ""),
                created_at=datetime.fromtimestamp(created, UTC),
                expires_at=datetime.fromtimestamp(expires, UTC),
                name=item.name,
            )
        )
    return result
