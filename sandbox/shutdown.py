"""A server process that stops takes its sandboxes with it, and waits until they are gone.

leases.release() only schedules a removal in the Docker thread pool; on SIGTERM uvicorn exits
by re-raising the signal right after the ASGI lifespan shutdown, which kills that pool mid-way.
So whoever ends a sandbox because the server stops waits here until the engine no longer lists
it, within a budget that fits uvicorn's --timeout-graceful-shutdown (10 s).

Two moments call this (both idempotent):
* the terminal consumer, when uvicorn closes its websocket with 1012 ("service restart"): that
  student's sandbox goes at once instead of waiting out the reconnect grace period;
* the ASGI lifespan shutdown (tutorial.asgi), after every connection has closed: everything this
  process still holds — terminals in their grace period, warm containers, sandboxes an exercise
  check started — goes too.

Only sandboxes.py and leases.py touch Docker here; the table says which sandboxes this process
holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings

from sandbox import sandboxes
from sandbox.background import stop_background_tasks
from sandbox.docker_api.client import EngineUnavailable
from sandbox.leases import release
from sandbox.loop_state import PerLoop
from sandbox.models import SandboxRecord

if TYPE_CHECKING:
    from sandbox.terminals import Lease

logger = logging.getLogger(__name__)

# Seconds a stopping server waits for its removals: inside uvicorn's 10 s graceful budget.
BUDGET = 8.0
# How often the engine's list is read while removals are pending (one read serves every waiter).
POLL_EVERY = 0.2


class _RemovalWatch:
    """Waiters for containers to disappear from a look at the engines (sandboxes.
    managed_containers), with one poller per event loop however many terminals wait (a server
    stopping with a class connected has dozens)."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[asyncio.Future[bool]]] = {}
        self.poller: asyncio.Task[None] | None = None

    async def wait(self, container_ids: set[str], timeout: float) -> set[str]:
        """The ids still listed after `timeout` seconds (or once the engine stops answering)."""
        loop = asyncio.get_running_loop()
        mine = {cid: loop.create_future() for cid in container_ids}
        for cid, future in mine.items():
            self.waiting.setdefault(cid, []).append(future)
        if self.poller is None or self.poller.done():
            # An empty context: the caller may be a request or a consumer whose thread
            # executors end with it, and the poller's ORM calls would outlive them.
            self.poller = loop.create_task(self._poll(), context=contextvars.Context())
        try:
            if mine:
                await asyncio.wait(mine.values(), timeout=timeout)
        finally:
            for cid, future in mine.items():
                waiters = self.waiting.get(cid, [])
                with contextlib.suppress(ValueError):
                    waiters.remove(future)
                if not waiters:
                    self.waiting.pop(cid, None)
        return {cid for cid, future in mine.items() if not (future.done() and future.result())}

    def _settle(self, cid: str, removed: bool) -> None:
        for future in self.waiting.pop(cid, []):
            if not future.done():
                future.set_result(removed)

    async def _poll(self) -> None:
        while self.waiting:
            try:
                # Each look once: it looks again in a moment anyway, within its budget.
                seen = await sandboxes.managed_containers(ask_again=False)
            except asyncio.CancelledError:
                raise
            except EngineUnavailable as exc:
                # Nothing can be removed without an engine: stop waiting; the next start's
                # prune_sandboxes (scripts/serve) or another process's reaper finishes the job.
                logger.warning("sandboxes not removed at shutdown: %s", exc.message)
                for cid in list(self.waiting):
                    self._settle(cid, False)
                return
            except Exception:
                logger.warning("could not list sandboxes at shutdown", exc_info=True)
            else:
                for cid in list(self.waiting):
                    # Missing from a look that could not see its node (one engine of several
                    # did not answer) is not gone: it stays waited for, and is reported as
                    # not removed if its node does not answer within the budget.
                    if seen.shows_removed(cid):
                        self._settle(cid, True)
            if self.waiting:
                await asyncio.sleep(POLL_EVERY)


_watches: PerLoop[_RemovalWatch] = PerLoop(_RemovalWatch)


async def wait_until_gone(container_ids: Iterable[str], timeout: float = BUDGET) -> set[str]:
    """Waits until the engine no longer lists these containers (their release already under
    way); returns the ids still there after `timeout` seconds."""
    ids = set(container_ids)
    if not ids:
        return set()
    return await _watches.get().wait(ids, timeout)


async def wait_for_lease(lease: Lease, timeout: float = BUDGET) -> bool:
    """For a lease just ended (TerminalRegistry.end_owner): waits until its container is gone
    and its release (with the student's Docker gateway clean-up) has finished. True if both
    happened within `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    left = await wait_until_gone([lease.sandbox.container_id], timeout)
    if lease.releasing is not None:
        await asyncio.wait({lease.releasing}, timeout=max(0.1, deadline - loop.time()))
    return not left and (lease.releasing is None or lease.releasing.done())


async def _held_by_this_process(*, live: bool = True) -> list[sandboxes.Sandbox]:
    """Every sandbox whose row names this process as its holder (only the warm ones without
    `live`). A warm one is first marked releasing, conditionally, so another process of the same
    instance can't take it meanwhile."""
    held = []
    rows = SandboxRecord.objects.filter(
        instance=settings.SANDBOX_INSTANCE, holder=sandboxes.BOOT_ID
    )
    if not live:
        rows = rows.filter(state=SandboxRecord.State.POOL)
    async for row in rows:
        if row.state == SandboxRecord.State.POOL:
            claimed = await SandboxRecord.objects.filter(
                pk=row.pk, state=SandboxRecord.State.POOL, holder=sandboxes.BOOT_ID
            ).aupdate(state=SandboxRecord.State.RELEASING)
            if not claimed:
                continue
        held.append(sandboxes.to_sandbox(row))
    return held


async def release_everything(timeout: float = BUDGET) -> set[str]:
    """For the ASGI lifespan shutdown: stops the reaper and the warm-pool filler, ends every
    terminal of this event loop, removes every sandbox this process holds and waits for it.
    Returns the container ids still there after `timeout` seconds."""
    if not settings.SANDBOX_ENABLED:
        return set()
    from sandbox.terminals import get_registry

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    # First, so the filler does not start new warm containers while the old ones go.
    await stop_background_tasks()
    registry = get_registry()
    held_shells = settings.TERMINAL_HELD_SHELLS
    if held_shells:
        # The students' shells are held in their sandboxes (sandbox/terminal_holder.py): the
        # sandboxes stay for the web process their pages reconnect to, which adopts them (or
        # for the reaper, once nobody did); only the warm ones go.
        registry.hand_over()
        doomed: set[str] = set()
    else:
        # Every terminal ends and its lease is released (in the registry's tasks, which also
        # end the students' Docker gateways).
        doomed = {sandbox.container_id for sandbox in registry.going_away()}
    try:
        held = await _held_by_this_process(live=not held_shells)
    except Exception:
        logger.warning("could not read this process's sandboxes at shutdown", exc_info=True)
        held = []
    for sandbox in held:
        if sandbox.container_id not in doomed:
            doomed.add(sandbox.container_id)
            registry.spawn(release(sandbox))
    left = await wait_until_gone(doomed, max(0.5, deadline - loop.time()))
    # The releases' own follow-up (closing the shells' streams, the gateways' clean-up) too.
    await registry.settle(max(0.1, deadline - loop.time()))
    if left:
        logger.warning(
            "%d sandbox(es) still there after %.0f s of shutdown; the next start removes them",
            len(left),
            timeout,
        )
    return left
