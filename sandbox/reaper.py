"""Removes sandboxes nobody should have any more, comparing the engine's list with the table.

A managed container of this instance goes when: its expiry label has passed; it has no row in
the database that recorded it (a crash between start and record, or a wiped table); its row is
idle or past its lifetime; its holder process stopped refreshing the heartbeat (the server
crashed); it is warm but stopped or too old; or a removal was scheduled and did not happen.
Containers of other instances, other Muelle roles and anything without our labels are never
touched.

Then the Docker gateway's leftovers (docs/gateway.md): gateways of this process whose student
has no live sandbox any more are closed, whatever students without a live sandbox created
through their gateway is removed (`sweep_orphans`: a crash leaves nothing behind), and gateway
folders no container mounts any more are deleted.

Runs at start-up (`manage.py prune_sandboxes`), periodically inside the server
(background.ensure_background_tasks) and on demand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from sandbox import gateway as docker_gateway
from sandbox import hardening, placement, sandboxes, warm_shells
from sandbox.docker_api.client import EngineUnavailable
from sandbox.docker_api.containers import ManagedContainer
from sandbox.models import SandboxRecord

logger = logging.getLogger(__name__)

# A container this young without a row may be one whose row is being written right now.
ORPHAN_GRACE_SECONDS = 60.0
# The reaper backs up the terminal's own idle timer; leave that timer room to end it first.
IDLE_SLACK_SECONDS = 30.0


def heartbeat_every() -> float:
    return settings.SANDBOX_REAP_INTERVAL / 2


def stale_after() -> timedelta:
    """A holder that has not refreshed its rows for this long is gone."""
    return timedelta(seconds=settings.SANDBOX_REAP_INTERVAL + 15)


@dataclass
class ReapReport:
    removed: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    forgotten_rows: int = 0
    # Not every node that may hold sandboxes answered: rows of sandboxes that may be there stay.
    incomplete: bool = False
    errors: list[str] = field(default_factory=list)
    # Docker gateway: students whose leftovers were removed, gateway folders deleted.
    students_cleaned: list[str] = field(default_factory=list)
    folders_removed: list[str] = field(default_factory=list)


def _reason(
    row: SandboxRecord | None,
    item: ManagedContainer,
    now: datetime,
    orphan_grace: float,
    store: str,
) -> str | None:
    label_expires = item.label_ts(hardening.LABEL_EXPIRES)
    if label_expires is not None and label_expires <= now.timestamp():
        return _("caducado (etiqueta)")
    if row is None:
        if sandboxes.is_inflight(item.id) or item.labels.get(hardening.LABEL_STORE) != store:
            return None
        created = item.label_ts(hardening.LABEL_CREATED) or 0.0
        return _("sin registro") if time.time() - created >= orphan_grace else None
    if row.state == SandboxRecord.State.RELEASING:
        return _("retirada pendiente")
    if row.holder != sandboxes.BOOT_ID and row.heartbeat_at < now - stale_after():
        return _("su proceso ya no existe")
    if row.state == SandboxRecord.State.POOL:
        if not item.running:
            return _("reserva parada")
        if row.created_at <= now - timedelta(seconds=settings.SANDBOX_MAX_LIFETIME):
            return _("reserva demasiado antigua")
        return None
    if now >= row.expires_at:
        return _("tiempo máximo agotado")
    if sandboxes.expired(row, now, slack=IDLE_SLACK_SECONDS):
        return _("inactivo")
    return None


async def heartbeat() -> None:
    now = timezone.now()
    await SandboxRecord.objects.filter(
        instance=settings.SANDBOX_INSTANCE, holder=sandboxes.BOOT_ID
    ).aupdate(heartbeat_at=now)


async def reap(*, everything: bool = False, orphan_grace: float | None = None) -> ReapReport:
    """One pass. everything=True removes every sandbox of this instance (prune --all)."""
    grace = ORPHAN_GRACE_SECONDS if orphan_grace is None else orphan_grace
    report = ReapReport()
    listed_at = time.monotonic()
    seen = await sandboxes.managed_containers()
    containers = seen.containers
    rows = {
        row.container_id: row
        async for row in SandboxRecord.objects.filter(instance=settings.SANDBOX_INSTANCE)
    }
    now = timezone.now()
    store = hardening.store_id()
    doomed: list[tuple[ManagedContainer, str]] = []
    for item in containers:
        reason = "--all" if everything else _reason(rows.get(item.id), item, now, grace, store)
        if reason is not None:
            doomed.append((item, reason))

    async def remove(item: ManagedContainer, reason: str) -> None:
        try:
            await sandboxes.remove_now(item.id)
            report.removed.append((item.name, reason))
        except Exception as exc:
            report.errors.append(f"{item.name}: {exc}")

    await asyncio.gather(*(remove(item, reason) for item, reason in doomed))
    if not everything:
        removed = {item.id for item, _why in doomed}
        keep = {
            item.id
            for item in containers
            if item.running and item.id not in removed and not sandboxes.is_inflight(item.id)
        }
        try:
            await placement.hold_ended_placeholders(seen, keep)
        except Exception:
            # A repair, not the pass's job: the pass goes on, the next one tries again.
            logger.warning("reaper: could not hold ended placeholders again", exc_info=True)
    if not seen.complete:
        # A node that may hold sandboxes did not answer (or Swarm is unsure of it): a row whose
        # container was not seen may belong to one alive there. Forgetting it would end that
        # student's gateway and remove what they made.
        logger.warning("reaper: not every node answered; sandboxes there are kept")
        report.incomplete = True
    report.forgotten_rows = await _forget_missing(rows, seen, listed_at, now, grace, everything)
    if settings.DOCKER_GATEWAY_ENABLED:
        await _reap_gateways(report, grace, seen)
    if report.removed:
        logger.info(
            "reaper removed %d sandbox(es): %s",
            len(report.removed),
            ", ".join(f"{name} ({why})" for name, why in report.removed),
        )
    return report


async def _forget_missing(
    rows: dict[str, SandboxRecord],
    seen: placement.Seen,
    listed_at: float,
    now: datetime,
    grace: float,
    everything: bool,
) -> int:
    """Rows whose container is gone (removed by hand, engine reset, its node lost) only hold
    capacity: they are deleted (how many is returned), once past `grace` unless `everything`,
    when the look at the engines would have seen their container."""
    present = seen.listed
    if seen.complete:
        # Shells started ahead in warm containers that went that way hold a socket each.
        warm_shells.forget_missing(present, listed_at)
    cutoff = now - timedelta(seconds=grace)
    gone = [
        cid
        for cid, row in rows.items()
        if cid not in present
        and seen.covers(cid)
        and not sandboxes.is_inflight(cid)
        and (everything or row.created_at <= cutoff)
    ]
    if not gone:
        return 0
    deleted, _ = await SandboxRecord.objects.filter(container_id__in=gone).adelete()
    return deleted


async def _live_owners() -> set[str]:
    rows = SandboxRecord.objects.filter(
        instance=settings.SANDBOX_INSTANCE, state=SandboxRecord.State.LIVE
    ).values_list("owner", flat=True)
    return {owner async for owner in rows if owner}


async def _reap_gateways(report: ReapReport, grace: float, seen: placement.Seen) -> None:
    """Ends what the sandboxes just removed (or removed behind our back) left of the gateway."""
    try:
        live = await _live_owners()
        # An owner being acquired right now has no row yet but may already have a gateway.
        busy = {owner for owner in docker_gateway.open_owners() if sandboxes.owner_busy(owner)}
        for owner in docker_gateway.open_owners():
            if owner not in live and owner not in busy:
                await sandboxes.end_gateway(owner)
        # On every Swarm node too: a web process that died leaves its students' objects there.
        engines = placement.student_engines(seen)
        report.students_cleaned = await docker_gateway.sweep_orphans(live | busy, engines=engines)
        in_use = await sandboxes.gateway_folders_in_use(seen)
        if in_use is not None:  # else a folder in use on a node that did not answer may go
            report.folders_removed = docker_gateway.sweep_folders(in_use, grace=grace)
    except asyncio.CancelledError:
        raise
    except EngineUnavailable:
        raise
    except Exception as exc:
        logger.warning("reaper: gateway leftovers not cleaned", exc_info=True)
        report.errors.append(f"gateway: {exc}")
    if report.students_cleaned:
        logger.info("reaper removed what %d student(s) left", len(report.students_cleaned))


async def _limit_disk() -> None:
    """At each heartbeat: what a student's containers write is measured often, not only at a
    reap (sandbox/gateway/disk_use.py). Never longer than a heartbeat: a heartbeat held back
    past stale_after() would make the other processes take this one's sandboxes for orphans.
    The engine's measure goes on meanwhile, for the next heartbeat to use."""
    try:
        async with asyncio.timeout(heartbeat_every()):
            await docker_gateway.enforce_disk_limit()
    except asyncio.CancelledError:
        raise
    except Exception:  # an engine that fails here must not stop the reaper
        logger.warning("reaper: disk use not measured", exc_info=True)


async def periodic() -> None:
    """Background task: heartbeat often, reap every SANDBOX_REAP_INTERVAL seconds."""
    last_reap = -float("inf")
    while True:
        try:
            await heartbeat()
            await _limit_disk()
            if time.monotonic() - last_reap >= settings.SANDBOX_REAP_INTERVAL:
                last_reap = time.monotonic()
                await reap()
        except asyncio.CancelledError:
            raise
        except EngineUnavailable as exc:
            logger.warning("reaper: %s", exc.message)
        except Exception:
            logger.exception("reaper pass failed")
        await asyncio.sleep(heartbeat_every())
