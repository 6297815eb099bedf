"""A terminal whose sandbox another web process adopted lets go of it instead of ending it.

With held shells (terminal_holder.py) and several web processes, a student whose reconnect
landed on process B carries on there: B adopted the sandbox (sandbox/leases.py: its row names B
as holder, B serves the student's Docker gateway). Process A still has the terminal it showed,
in its reconnect grace period; when that runs out, A must neither hang up the shell (B shows
it) nor remove the sandbox (B uses it): it only closes its own attach, and drops its lease
without releasing the sandbox. The same when this process stops (SIGTERM) with held shells:
its students' pages reconnect to another process, which adopts their sandboxes. And while the
student has terminals in both processes, the keystrokes one process sees keep the sandbox from
ending idle in the other (idle_pushed_back).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from django.conf import settings
from django.utils import timezone

from sandbox import engine, sandboxes, terminal_holder
from sandbox.models import SandboxRecord

logger = logging.getLogger(__name__)


async def adopted_elsewhere(container_id: str) -> bool:
    """The sandbox's row names another web process as its holder."""
    holder = await (
        SandboxRecord.objects.filter(container_id=container_id, state=SandboxRecord.State.LIVE)
        .values_list("holder", flat=True)
        .afirst()
    )
    return holder is not None and holder != sandboxes.BOOT_ID


async def should_let_go(terminal: Any) -> bool:
    """For a closing sandbox.terminals.Terminal with a held shell: True when it must only let
    go (TerminalRegistry.hand_over marked it, or another process adopted its sandbox)."""
    lease = terminal.lease
    if terminal.detach_only:
        return True
    if lease is None or lease.ended or terminal.tty is None:
        return False
    try:
        return await adopted_elsewhere(lease.sandbox.container_id)
    except Exception:
        logger.info("could not read the holder of %s", terminal, exc_info=True)
        return False


async def let_go(terminal: Any) -> None:
    """Closes this process's attach only and, if it was this process's last terminal of the
    owner, drops the lease without removing the sandbox."""
    with contextlib.suppress(Exception):
        await terminal.tty.close()
    lease = terminal.lease
    if lease is not None and not terminal.registry.terminals_of(terminal.owner):
        lease.release(remove=False)


async def idle_pushed_back(lease: Any) -> bool:
    """For a sandbox.terminals.Lease about to warn or end for inactivity, with held shells: when
    the sandbox's row shows activity this process did not see (keystrokes in another web
    process's terminals, engine.touch), move the lease's idle clock to it; True if it moved."""
    if not terminal_holder.enabled() or lease.ended:
        return False
    try:
        expiry = await engine.expiry(lease.sandbox)
    except Exception:
        logger.info("could not read the activity of %s", lease.owner[:8], exc_info=True)
        return False
    seen_elsewhere = (expiry.idle_at - timezone.now()).total_seconds()
    left_here = lease.last_input + settings.SANDBOX_IDLE_TIMEOUT - time.monotonic()
    if seen_elsewhere <= left_here + 1:
        return False
    lease.last_input = time.monotonic() - (settings.SANDBOX_IDLE_TIMEOUT - seen_elsewhere)
    return True
