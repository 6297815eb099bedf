"""Live terminals: one shell per (browser session, terminal id), kept across reconnects.

A Terminal outlives the websocket that opened it. When the page reloads or the network drops, the
shell stays for SANDBOX_RECONNECT_GRACE seconds and a connection with the same terminal id from
the same session picks it up again, with the recent output replayed. A Lease is one owner's
sandbox as the terminals see it: every terminal of a session shares it, and it ends (expiry,
death, last terminal gone) for all of them at once.

Everything here runs on the event loop and reaches Docker only through sandbox.engine's async API.
The websocket side is any object with the TerminalClient methods (sandbox.consumers).

Why one module of about 800 lines: Terminal, Lease and TerminalRegistry change each
other's state in a fixed order on one event loop (a lease ends all its terminals, the registry
hands out leases under an owner lock), and the terminal tests replace `engine` here as a whole.
What the terminal says lives in terminal_notices.py, its rate and replay buffers in
terminal_buffers.py, its close codes in terminal_protocol.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import salted_hmac

from sandbox import engine, placement, terminal_handover, terminal_hangup, terminal_holder
from sandbox.client_limits import AddressFull, AddressGate
from sandbox.loop_state import PerLoop
from sandbox.owner_locks import OwnerLocks
from sandbox.terminal_buffers import ReplayBuffer, TokenBucket
from sandbox.terminal_notices import (
    address_queued_event,
    engine_unavailable_notice,
    exit_event,
    expired_notice,
    expiry_warning,
    fresh_notice,
    internal_error_notice,
    notice,
    oom_notice,
    queued_event,
    ready_event,
    taken_over_notice,
)

# Close codes (docs/terminal-protocol.md), re-exported: consumers and tests import them from here.
from sandbox.terminal_protocol import (  # noqa: F401
    CLOSE_DIED,
    CLOSE_GOING_AWAY,
    CLOSE_IDLE,
    CLOSE_INPUT_FLOOD,
    CLOSE_INTERNAL,
    CLOSE_LIFETIME,
    CLOSE_NO_ENGINE,
    CLOSE_NO_SESSION,
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_SERVICE_RESTART,
    CLOSE_TAB_CLOSED,
    CLOSE_TAKEN_OVER,
    CLOSE_TOO_BIG,
    CLOSE_TOO_MANY,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

TERMINAL_ID = re.compile(r"[A-Za-z0-9_-]{22,64}")

# Output path: bytes read from the TTY wait here until the websocket takes them. Above HIGH_WATER
# the reader stops reading, so the pty fills up and blocks the writer inside the container.
HIGH_WATER = 64 * 1024
SEND_CHUNK = 64 * 1024
# Ctrl-C during a flood: the engine's own stream buffers hold ~2 MB of output produced *before*
# the interrupt (measured: 1.8 MB, 6.7 s at 256 KB/s). A real tty discards pending output on
# SIGINT; we do the same for what is queued upstream: read it at full speed, keep only the tail
# (which holds the "^C" and the next prompt), and stop as soon as the stream goes quiet.
INTERRUPT_QUIET = 0.05
INTERRUPT_MAX = 3.0
INTERRUPT_TAIL = 2048
BACKLOG_WINDOW = 1.0
# Keystrokes waiting for a container that does not read its stdin (e.g. `sleep` + a paste).
INBOX_MAX = 256 * 1024
# engine.touch, when the engine has one, at most this often per sandbox.
TOUCH_EVERY = 10.0
# What bash prints when a job dies of SIGKILL, the OOM killer's signal. Seeing it in a terminal's
# output is the cue to count the sandbox's OOM kills (an exec, so not on every chunk); at most
# once per OOM_CHECK_EVERY seconds per sandbox, so `yes Killed` costs one exec every few seconds.
KILLED = b"Killed"
OOM_CHECK_EVERY = 2.0

CTRL_C = b"\x03"


def owner_key(session_key: str) -> str:
    """The sandbox owner for a browser session: a keyed hash, so the raw session key (a login
    credential) never reaches a container label, a log line or the engine."""
    return salted_hmac("muelle.sandbox.owner", session_key, algorithm="sha256").hexdigest()[:40]


def is_terminal_id(value: str) -> bool:
    return TERMINAL_ID.fullmatch(value) is not None


class TerminalClient(Protocol):
    """What a terminal needs from the connection showing it (sandbox.consumers)."""

    async def send_output(self, data: bytes) -> None: ...

    async def send_event(self, event: dict[str, Any]) -> None: ...

    async def end(self, code: int, event: dict[str, Any] | None) -> None: ...

    async def sandbox_is_fresh(self, sandbox: engine.Sandbox) -> bool: ...


# --- Terminal ------------------------------------------------------------------------------------


class Terminal:
    """One interactive shell in an owner's sandbox, and the connection (if any) showing it."""

    def __init__(
        self,
        registry: TerminalRegistry,
        owner: str,
        terminal_id: str,
        rows: int,
        cols: int,
        address: str = "unknown",
    ) -> None:
        self.registry = registry
        self.owner = owner
        self.address = address  # the client address that opened it (per-address limits)
        self.id = terminal_id
        self.rows, self.cols = rows, cols
        self.state = "starting"  # starting -> live -> closed
        self.queued = False  # waiting in the engine's line for a sandbox slot
        self.queue_position = 0
        self.client: TerminalClient | None = None
        self.streaming = False  # the client got `ready`: output flows to it
        self.lease: Lease | None = None
        self.tty: Any = None
        self.detached_at = time.monotonic()
        self.ring = ReplayBuffer(settings.TERMINAL_REPLAY_BYTES)
        self.pending = bytearray()
        self._output_tail = b""  # the end of the last chunk, to spot a KILLED split in two
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._interrupt = asyncio.Event()
        self._throttled_at = -math.inf
        self._interrupted_at = -math.inf
        self._next_read: asyncio.Task[bytes] | None = None
        # Keystrokes (bytes) and sizes ((rows, cols)) in the order the page sent them.
        self._inbox: deque[bytes | tuple[int, int]] = deque()
        self._inbox_size = 0
        self._inbox_ready = asyncio.Event()
        self._writing: asyncio.Future[None] | None = None  # a paste being written (_write_now)
        self._applied_size = (rows, cols)
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        # TerminalRegistry.hand_over: closing it closes only this process's attach to the held
        # shell (terminal_holder.py), which another web process then shows.
        self.detach_only = False

    def __repr__(self) -> str:
        return f"<Terminal {self.owner[:8]}/{self.id[:8]} {self.state}>"

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    # Binding connections ------------------------------------------------------------------------

    def bind(self, client: TerminalClient) -> None:
        """Shows this terminal on `client`; a connection already showing it is told and closed."""
        previous = self.client
        if previous is not None and previous is not client:
            self.registry.spawn(previous.end(CLOSE_TAKEN_OVER, taken_over_notice()))
        self.client = client
        self.streaming = False
        self.pending.clear()
        self._cancel("grace")
        if self.state == "starting":
            if "start" not in self._tasks:
                self._spawn("start", self._start())
            elif self.queued:
                self.registry.spawn(client.send_event(queued_event(self.queue_position)))
        elif self.state == "live":
            self._spawn("greet", self._greet(client, reattached=True, fresh=False))

    def unbind(self, client: TerminalClient) -> None:
        """The connection went away: keep the shell for the grace period, or drop a queued start."""
        if self.client is not client:
            return
        self.client = None
        self.streaming = False
        self.pending.clear()
        self._drained.set()
        self.detached_at = time.monotonic()
        if self.state == "starting" and self.queued:
            self.close()  # nothing to keep yet; leave the queue at once
        elif self.state == "live":
            self._start_grace()

    def _start_grace(self) -> None:
        self._spawn("grace", self._grace())

    async def _grace(self) -> None:
        await asyncio.sleep(settings.SANDBOX_RECONNECT_GRACE)
        if self.client is None:
            self.close()

    # Start-up -----------------------------------------------------------------------------------

    async def _start(self) -> None:
        try:
            lease = await self.registry.lease_for(self.owner, self)
            client = self.client
            fresh = await client.sandbox_is_fresh(lease.sandbox) if client else False
            size = (self.rows, self.cols)
            try:
                tty = await self._open_shell(lease.sandbox, size)
            except engine.SandboxGone:
                # Died between being handed out and the shell opening: start over, once.
                lease.release()
                lease = await self.registry.lease_for(self.owner, self)
                tty = await self._open_shell(lease.sandbox, size)
        except asyncio.CancelledError:
            raise
        except engine.EngineUnavailable as exc:
            self.finish(CLOSE_NO_ENGINE, engine_unavailable_notice(exc.message))
            return
        except engine.SessionLimitReached as exc:
            self.finish(CLOSE_TOO_MANY, notice("error", exc.message))
            return
        except Exception:
            logger.exception("could not open a terminal for %s", self)
            self.finish(CLOSE_INTERNAL, internal_error_notice())
            return
        if self.closed:
            await tty.close()
            return
        self.lease, self.tty, self.state = lease, tty, "live"
        self._applied_size = size
        self._spawn("read", self._read_loop())
        self._spawn("send", self._send_loop())
        self._spawn("write", self._write_loop())
        client = self.client
        if client is None:
            self._start_grace()
        else:
            await self._greet(client, reattached=False, fresh=fresh)
        if (self.rows, self.cols) != self._applied_size:  # resized while the shell started
            self.resize(self.rows, self.cols)

    async def _open_shell(self, sandbox: engine.Sandbox, size: tuple[int, int]) -> Any:
        if terminal_holder.enabled():
            # Held in the sandbox: any web process attaches to it again (terminal_holder.py).
            return await terminal_holder.open_tty(sandbox, self.id, rows=size[0], cols=size[1])
        return await engine.open_tty(sandbox, rows=size[0], cols=size[1])

    async def on_queue(self, position: int) -> None:
        """engine.acquire's callback while every sandbox slot is taken (1 = next in line)."""
        self.queued = True
        self.queue_position = position
        client = self.client
        if client is not None:
            await client.send_event(queued_event(position))

    async def on_address_queue(self, position: int) -> None:
        """The client address already holds CLIENT_MAX_SANDBOXES: this one waits in its line."""
        self.queued = True
        self.queue_position = position
        client = self.client
        if client is not None:
            await client.send_event(address_queued_event(position))

    async def _greet(self, client: TerminalClient, *, reattached: bool, fresh: bool) -> None:
        assert self.lease is not None
        await client.send_event(
            ready_event(self.lease.sandbox.expires_at, reattached=reattached, fresh=fresh)
        )
        if fresh:
            await client.send_event(fresh_notice())
        moved = placement.take_move_notice(self.owner)  # its Swarm node died or was drained
        if moved:
            await client.send_event(notice("warning", moved))
        # A warning broadcast before this terminal streamed (a page opened or reloaded in the
        # last minutes, or a start slower than the warning's lead) reached only the others.
        await self.lease.learn_idle_elsewhere()
        if self.client is not client or self.closed:
            return
        # Output read before `ready` went only to the replay buffer, so the snapshot is exactly
        # what the page has not seen yet (all of it on a reattach: the page resets its screen).
        self.pending = bytearray(self.ring.snapshot())
        self.streaming = True
        # Checked in the same step as `streaming` is set: the watcher's next broadcast, if any,
        # reaches this terminal, so the warning comes once.
        warning = self.lease.due_warning()
        self._wake.set()
        if warning is not None:
            await client.send_event(warning)

    # Input --------------------------------------------------------------------------------------

    def input(self, data: bytes) -> None:
        """Keystrokes from the page; never waits (a stuck container must not stall the socket)."""
        if self.state != "live" or not data:
            return
        if self.lease is not None:
            self.lease.touch()
        if CTRL_C in data:
            # Like a tty on SIGINT: queued keystrokes are dropped and the interrupt goes next.
            self._inbox = deque(item for item in self._inbox if isinstance(item, tuple))
            self._inbox_size = 0
            if self._writing is not None:
                # A paste still going in (a held shell takes it slice by slice) is dropped too:
                # what is not written yet never reaches the program (a slice may be cut short).
                self._writing.cancel()
                self._writing = None  # one Ctrl-C, one cancel
            if time.monotonic() - self._throttled_at < BACKLOG_WINDOW:
                self._interrupted_at = time.monotonic()
                self._interrupt.set()
        elif self._inbox_size + len(data) > INBOX_MAX:
            return  # the container is not reading its input; a real tty would drop it too
        self._inbox.append(data)
        self._inbox_size += len(data)
        self._inbox_ready.set()

    def resize(self, rows: int, cols: int) -> None:
        """Queued with the keystrokes, so whatever is typed after a resize sees the new size."""
        self.rows, self.cols = rows, cols
        if self.state != "live":
            return  # open_tty gets the latest size
        if self._inbox and isinstance(self._inbox[-1], tuple):
            self._inbox[-1] = (rows, cols)  # a window being dragged sends dozens
        else:
            self._inbox.append((rows, cols))
        self._inbox_ready.set()

    async def _write_loop(self) -> None:
        while True:
            await self._inbox_ready.wait()
            self._inbox_ready.clear()
            while self._inbox:
                item = self._inbox.popleft()
                try:
                    if isinstance(item, tuple):
                        if item != self._applied_size:
                            await self.tty.resize(*item)
                            self._applied_size = item
                        continue
                    # Everything typed since: one write.
                    chunks = [item]
                    while self._inbox and isinstance(following := self._inbox[0], bytes):
                        self._inbox.popleft()
                        chunks.append(following)
                    data = b"".join(chunks)
                    self._inbox_size -= len(data)
                    await self._write_now(data)
                except Exception:
                    # The shell is gone; the reader sees the end of the stream and reports it.
                    logger.info("writing to %s failed", self, exc_info=True)
                    return

    async def _write_now(self, data: bytes) -> None:
        """tty.write; a Ctrl-C typed meanwhile (input()) cancels a paste, but never a Ctrl-C
        already on its way (two interrupts stay two) nor a few keystrokes."""
        cut = data.rfind(CTRL_C) + 1  # 0 when there is none
        if cut:
            await self.tty.write(data[:cut])
        rest = data[cut:]
        if len(rest) > terminal_holder.PASTE_SLICE:
            await self._write_cancellable(rest)
        elif rest:
            await self.tty.write(rest)  # keystrokes: no task of their own

    async def _write_cancellable(self, data: bytes) -> None:
        writing = asyncio.ensure_future(self.tty.write(data))
        self._writing = writing
        try:
            await asyncio.wait({writing})
        except asyncio.CancelledError:
            writing.cancel()
            if writing.done() and not writing.cancelled():
                writing.exception()  # retrieved: the loop is ending anyway
            raise
        finally:
            self._writing = None
        if not writing.cancelled():
            writing.result()  # the write's own error, if any

    # Output -------------------------------------------------------------------------------------

    async def _read(self, timeout: float | None) -> bytes | None:
        """The next TTY chunk; None on timeout, without losing a read that lands later."""
        if self._next_read is None:
            self._next_read = asyncio.ensure_future(self.tty.read())
        await asyncio.wait({self._next_read}, timeout=timeout)
        if not self._next_read.done():
            return None
        task, self._next_read = self._next_read, None
        return task.result()

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        self.ring.append(data)
        if self.streaming:
            self.pending += data
            self._wake.set()

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._read(None)
                if not data:
                    break
                if self._interrupt.is_set():
                    if time.monotonic() - self._interrupted_at < BACKLOG_WINDOW:
                        if not await self._skip_interrupted_flood(data):
                            break
                        continue
                    self._interrupt.clear()  # nothing flowed after the Ctrl-C: nothing to skip
                self._emit(data)
                self._look_for_kills(data)
                await self._throttle(len(data))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("terminal stream of %s failed", self, exc_info=True)
        await self._shell_ended()

    def _look_for_kills(self, data: bytes) -> None:
        seen = self._output_tail + data[: len(KILLED) - 1]
        if KILLED in seen or KILLED in data:
            assert self.lease is not None
            self.lease.check_oom_kills()
        self._output_tail = data[-(len(KILLED) - 1) :]

    async def _throttle(self, size: int) -> None:
        """Stop reading while over the output rate (the session's, shared by all its terminals)
        or while the page has not taken its bytes."""
        assert self.lease is not None
        delay = self.lease.output.take(size)
        if delay > 0:
            self._throttled_at = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._interrupt.wait(), delay)
        while self.streaming and len(self.pending) >= HIGH_WATER and not self._interrupt.is_set():
            self._throttled_at = time.monotonic()
            self._drained.clear()
            waiters = [asyncio.ensure_future(e.wait()) for e in (self._drained, self._interrupt)]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def _skip_interrupted_flood(self, first: bytes) -> bool:
        """Skips what the container printed before a Ctrl-C; False when the shell ended."""
        self._interrupt.clear()
        self.pending.clear()
        tail = bytearray(first)
        alive = True
        deadline = time.monotonic() + INTERRUPT_MAX
        while time.monotonic() < deadline:
            data = await self._read(INTERRUPT_QUIET)
            if data is None:
                break  # quiet: what was queued before the interrupt is gone
            if not data:
                alive = False
                break
            tail += data
            if len(tail) > 4 * INTERRUPT_TAIL:
                del tail[:-INTERRUPT_TAIL]
        if len(tail) > INTERRUPT_TAIL:
            del tail[:-INTERRUPT_TAIL]
            cut = tail.find(b"\n")
            if cut != -1:
                del tail[: cut + 1]
        # The next prompt shows at once; the tail itself is not charged.
        assert self.lease is not None
        self.lease.output.forgive()
        self._emit(bytes(tail))
        return alive

    async def _send_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.streaming and self.pending and self.client is not None:
                client = self.client
                chunk = bytes(self.pending[:SEND_CHUNK])
                del self.pending[:SEND_CHUNK]
                if len(self.pending) < HIGH_WATER:
                    self._drained.set()
                # Awaiting the send is the backpressure: the ASGI server holds us while the
                # socket toward a slow browser is full, and the reader stops at HIGH_WATER.
                await client.send_output(chunk)
            self._drained.set()

    async def _shell_ended(self) -> None:
        lease = self.lease
        if lease is None or self.closed:
            return
        reason, code = await lease.why_shell_ended(self.tty)
        if reason == "exit":
            self.finish(CLOSE_NORMAL, exit_event("exit", code))
        else:
            event = exit_event(reason, code)
            lost = await placement.lost_node_message(lease.sandbox.container_id)
            if reason == "killed" and lost:  # its Swarm node died, not the sandbox alone
                event["message"] = lost
            lease.end(CLOSE_DIED, event)

    # Teardown -----------------------------------------------------------------------------------

    def finish(self, code: int, event: dict[str, Any] | None) -> None:
        """Tells the connection why (if any is there), closes it and closes the terminal."""
        client, self.client = self.client, None
        self.streaming = False
        if client is not None:
            self.registry.spawn(client.end(code, event))
        self.close()

    def close(self) -> None:
        """Ends the shell and frees everything; safe to call more than once."""
        if self.closed:
            return
        self.state = "closed"
        current = asyncio.current_task()
        for task in list(self._tasks.values()):
            if task is not current:
                task.cancel()
        if self._next_read is not None:
            self._next_read.cancel()
            self._next_read = None
        self.pending.clear()
        self.registry.forget(self)
        self.registry.spawn(self._dispose())

    async def _dispose(self) -> None:
        held = isinstance(self.tty, terminal_holder.HeldTTY)
        if held and await terminal_handover.should_let_go(self):
            # Another web process shows (or will show) this sandbox: its shells stay there.
            await terminal_handover.let_go(self)
            return
        if self.tty is not None:
            lease = self.lease
            if lease is not None and not lease.ended and self.registry.terminals_of(self.owner):
                # The sandbox stays for the owner's other terminals: end this shell there too
                # (closing the stream alone leaves it running). The last terminal's sandbox goes
                # as a whole instead.
                try:
                    if held:
                        await terminal_holder.end_shell(lease.sandbox, self.id)
                    else:
                        await terminal_hangup.hang_up(self.tty)
                except Exception:
                    logger.info("could not hang up %s", self, exc_info=True)
            with contextlib.suppress(Exception):
                await self.tty.close()
        self.registry.release_if_unused(self.owner)

    def _spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        self._cancel(name)
        task = self.registry.spawn(coro)
        self._tasks[name] = task
        task.add_done_callback(lambda t: self._tasks.get(name) is t and self._tasks.pop(name))
        return task

    def _cancel(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()


# --- Lease: one owner's sandbox --------------------------------------------------------------


class Lease:
    def __init__(
        self,
        registry: TerminalRegistry,
        owner: str,
        sandbox: engine.Sandbox,
        address: str | None = None,
    ) -> None:
        self.registry = registry
        self.owner = owner
        self.sandbox = sandbox
        self.address = address  # holds one of that address's places (AddressGate) until released
        self.last_input = time.monotonic()
        self._last_touch = -math.inf
        self.ended = False
        self.releasing: asyncio.Task[None] | None = None  # engine.release, once ended
        # TERMINAL_OUTPUT_RATE is per session: every terminal of the owner draws on this bucket,
        # so opening more tabs does not multiply what a flood can push out.
        rate = settings.TERMINAL_OUTPUT_RATE
        self.output = TokenBucket(rate, burst=rate / 2)
        # OOM kills inside the running sandbox (the engine only reports the main process's when
        # the container stops): counted at start, then whenever a terminal prints KILLED.
        self._oom_kills: int | None = None
        self._oom_task: asyncio.Task[None] | None = None
        self._oom_again = False
        self._oom_checked_at = -math.inf
        # The ends warned of: reason ("idle", "lifetime") → when it was then (monotonic).
        self._warned: dict[str, float] = {}
        self.watcher = registry.spawn(self._watch_expiry())
        if sandbox.fresh:
            # Nothing of the student's has run in it: no kill to count, and no inspect of the
            # engine at every arrival of a class (an engine call in the middle of the burst).
            self._oom_kills = 0
        else:
            self._oom_task = registry.spawn(self._count_oom_kills(first=True))

    def touch(self) -> asyncio.Task[None] | None:
        """A keystroke (or an edit, a check): the idle timer starts again, here and (at most every
        TOUCH_EVERY s, well within the reaper's slack) in the engine's record, whose writing task
        it returns."""
        now = time.monotonic()
        self.last_input = now
        if now - self._last_touch > TOUCH_EVERY:
            self._last_touch = now
            return self.registry.spawn(engine.touch(self.sandbox))
        return None

    def _deadline(self) -> tuple[str, float]:
        """(reason, seconds left) for whichever end comes first."""
        idle_left = self.last_input + settings.SANDBOX_IDLE_TIMEOUT - time.monotonic()
        life_left = (self.sandbox.expires_at - timezone.now()).total_seconds()
        return ("idle", idle_left) if idle_left < life_left else ("lifetime", life_left)

    def _warned_of(self, reason: str, left: float) -> bool:
        """Whether this very end was warned of: typing moves the idle end, and an end moved by
        more than a second is a new one, worth a warning of its own."""
        end = self._warned.get(reason)
        return end is not None and abs(time.monotonic() + left - end) < 1.0

    async def learn_idle_elsewhere(self) -> None:
        """After an idle warning: typing in another web process's terminals (held shells) moved
        the idle end, and this lease only learns it here or when its watcher wakes."""
        if "idle" in self._warned:
            await terminal_handover.idle_pushed_back(self)

    def due_warning(self) -> dict[str, Any] | None:
        """The expiry warning already broadcast for the end ahead, as an event for a terminal
        that starts streaming after it (None if none is due, or the lease is over)."""
        if self.ended:
            return None
        reason, left = self._deadline()
        # (Under a second left, the warning would say 0 s: the end itself comes first.)
        if not 1 <= left <= settings.SANDBOX_EXPIRY_WARNING or not self._warned_of(reason, left):
            return None
        return expiry_warning(reason, left)

    async def _watch_expiry(self) -> None:
        while True:
            reason, left = self._deadline()
            if (
                reason == "idle"
                and left <= settings.SANDBOX_EXPIRY_WARNING
                and await terminal_handover.idle_pushed_back(self)
            ):
                continue  # the student types in another web process's terminals
            if left <= 0:
                self.end(CLOSE_IDLE if reason == "idle" else CLOSE_LIFETIME, expired_notice(reason))
                return
            warning = settings.SANDBOX_EXPIRY_WARNING
            if left <= warning:
                if not self._warned_of(reason, left):
                    self._warned[reason] = time.monotonic() + left
                    self.broadcast(expiry_warning(reason, left))
                    self._last_touch = -math.inf  # the next keystroke reaches the engine at once
                await asyncio.sleep(left)
            else:
                self._warned.pop(reason, None)  # typing pushed the idle end back: warn later
                await asyncio.sleep(left - warning)

    def check_oom_kills(self) -> None:
        """A terminal printed KILLED: tell every terminal if the OOM killer did it (in a task;
        at most one count at a time and one per OOM_CHECK_EVERY seconds)."""
        if self.ended:
            return
        if self._oom_task is not None and not self._oom_task.done():
            self._oom_again = True  # the count under way may predate this kill
            return
        self._oom_task = self.registry.spawn(self._count_oom_kills())

    async def _count_oom_kills(self, first: bool = False) -> None:
        while True:
            self._oom_again = False
            if not first:
                wait = self._oom_checked_at + OOM_CHECK_EVERY - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            self._oom_checked_at = time.monotonic()
            try:
                state = await asyncio.wait_for(engine.state(self.sandbox), 10)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.info("could not count OOM kills of %s", self.owner[:8], exc_info=True)
                state = None
            if state is not None and state.running and not self.ended:
                # (No count at start, e.g. the engine was busy: a new sandbox starts at 0.)
                known = self._oom_kills if self._oom_kills is not None or first else 0
                self._oom_kills = max(known or 0, state.oom_kills)
                if known is not None and state.oom_kills > known:
                    self.broadcast(oom_notice(state.oom_kills - known))
            first = False
            if not self._oom_again or self.ended:
                return

    def broadcast(self, event: dict[str, Any]) -> None:
        for terminal in self.registry.terminals_of(self.owner):
            client = terminal.client
            if client is not None and terminal.streaming:
                self.registry.spawn(client.send_event(event))

    async def why_shell_ended(self, tty: Any) -> tuple[str, int | None]:
        """("exit", code) when only the shell ended; ("oom"|"killed", code) if the sandbox died."""
        # A killed container closes the shell's stream a moment before the engine reports it
        # stopped: look twice before calling it a plain exit.
        for attempt in range(3):
            try:
                state = await asyncio.wait_for(engine.state(self.sandbox), 10)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.info("sandbox of %s is gone", self.owner[:8], exc_info=True)
                return "killed", None
            if not state.running:
                break
            if attempt < 2:
                await asyncio.sleep(0.25)
        else:
            return "exit", tty.exit_code
        return ("oom" if state.oom_killed else "killed"), state.exit_code

    def end(self, code: int, event: dict[str, Any] | None) -> None:
        """The sandbox is over (expired or died): every terminal is told, then it is removed."""
        if self.ended:
            return
        for terminal in list(self.registry.terminals_of(self.owner)):
            terminal.finish(code, event)
        self.release()

    def release(self, *, remove: bool = True) -> None:
        """Ends this lease; with remove=False (another web process adopted the sandbox) the
        sandbox and its gateway are left to that process."""
        if self.ended:
            return
        self.ended = True
        if self.address is not None:
            self.registry.addresses.release(self.address)
        for task in (self.watcher, self._oom_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        if self.registry.leases.get(self.owner) is self:
            del self.registry.leases[self.owner]
        if remove:
            self.releasing = self.registry.spawn(engine.release(self.sandbox))


# --- Registry ------------------------------------------------------------------------------------


class TerminalRegistry:
    """Every live terminal and lease of one event loop (one ASGI server process)."""

    def __init__(self) -> None:
        self.by_owner: dict[str, dict[str, Terminal]] = {}
        self.leases: dict[str, Lease] = {}
        self.owner_locks = OwnerLocks()
        self.addresses = AddressGate()
        # Strong references: the event loop keeps only weak ones, and a task without a reference
        # can be garbage-collected mid-stream.
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("terminal task failed", exc_info=task.exception())

    # Terminals ----------------------------------------------------------------------------------

    def terminals_of(self, owner: str) -> list[Terminal]:
        return list(self.by_owner.get(owner, {}).values())

    def address_full(self, address: str, owner: str, terminal_id: str) -> bool:
        """True when `address` has CLIENT_MAX_TERMINALS terminals and this would be a new one
        (reattaching to a terminal that exists is always allowed)."""
        if terminal_id in self.by_owner.get(owner, {}):
            return False
        count = sum(
            1 for mine in self.by_owner.values() for t in mine.values() if t.address == address
        )
        return count >= settings.CLIENT_MAX_TERMINALS

    def connect(
        self,
        owner: str,
        terminal_id: str,
        client: TerminalClient,
        rows: int = 24,
        cols: int = 80,
        address: str = "unknown",
    ) -> Terminal | None:
        """Binds `client` to the owner's terminal `terminal_id`, new or kept from a previous
        connection. None when the session already shows its maximum number of terminals."""
        mine = self.by_owner.setdefault(owner, {})
        terminal = mine.get(terminal_id)
        if terminal is None:
            if len(mine) >= settings.SANDBOX_MAX_TERMINALS_PER_SESSION:
                # A terminal nobody shows (a closed tab in its grace period) makes room.
                detached = [t for t in mine.values() if t.client is None]
                if not detached:
                    if not mine:
                        self.by_owner.pop(owner, None)
                    return None
                min(detached, key=lambda t: t.detached_at).close()
                mine = self.by_owner.setdefault(owner, {})
            terminal = Terminal(self, owner, terminal_id, rows, cols, address)
            mine[terminal_id] = terminal
        terminal.bind(client)
        return terminal

    def forget(self, terminal: Terminal) -> None:
        mine = self.by_owner.get(terminal.owner)
        if mine is not None and mine.get(terminal.id) is terminal:
            del mine[terminal.id]
            if not mine:
                del self.by_owner[terminal.owner]

    def release_if_unused(self, owner: str) -> None:
        """The last terminal of an owner is gone: remove the sandbox (the next one is fresh)."""
        lease = self.leases.get(owner)
        if lease is not None and not self.by_owner.get(owner):
            lease.release()

    # Sandboxes ----------------------------------------------------------------------------------

    async def lease_for(self, owner: str, terminal: Terminal) -> Lease:
        """The owner's sandbox: the one its other terminals use, or one from the engine (which
        may put the terminal in line: Terminal.on_queue)."""
        async with self.owner_locks.hold(owner):
            lease = self.leases.get(owner)
            if lease is not None and not lease.ended:
                return lease
            # The address's own line first, then the server's: one address's backlog never
            # holds a place in the server's line.
            address = terminal.address
            await self.addresses.acquire(address, terminal.on_address_queue)
            return await self._leased(owner, address, lambda: self._acquire(owner, terminal))

    async def in_sandbox(
        self, owner: str, address: str, use: Callable[[engine.Sandbox], Awaitable[T]]
    ) -> T:
        """`use` run on the owner's sandbox, for the editor and the exercise checks: the one their
        terminal leases, or one leased here (lease_without_terminal), again on a new one when it
        turns out to be gone and no terminal uses it. Activity, as a keystroke is: without it a
        terminal's lease ended the sandbox of a student who only edited."""
        lease = await self.lease_without_terminal(owner, address)
        try:
            result = await use(lease.sandbox)
        except engine.SandboxGone:
            if self.terminals_of(owner):
                raise  # its terminals end the lease and say why
            lease.release()
            lease = await self.lease_without_terminal(owner, address)
            result = await use(lease.sandbox)
        recorded = lease.touch()
        if recorded is not None:
            await recorded
        return result

    async def lease_without_terminal(self, owner: str, address: str) -> Lease:
        """The owner's lease, or a new one that holds a place of `address` as a terminal's does,
        until the sandbox ends: only the terminal's path had the per-address limit, and one
        script with many sessions filled every sandbox through «Comprobar» or the editor. It
        waits in no line: AddressFull or engine.CapacityFull at once, also while a terminal of
        the owner waits in one (holding the owner's lock)."""
        lease = self.leases.get(owner)
        if lease is not None and not lease.ended:
            return lease
        if any(terminal.queued for terminal in self.terminals_of(owner)):
            raise AddressFull if self.addresses.waiting(address) else engine.CapacityFull()
        # The engine's background tasks (reaper, warm pool) start from an empty context: started
        # from a request's, they would inherit thread executors that end with it.
        contextvars.Context().run(engine.ensure_background_tasks)
        async with self.owner_locks.hold(owner):
            lease = self.leases.get(owner)
            if lease is not None and not lease.ended:
                return lease
            if not self.addresses.try_acquire(address):
                raise AddressFull
            return await self._leased(owner, address, lambda: engine.acquire(owner))

    async def _leased(
        self, owner: str, address: str, acquire: Callable[[], Awaitable[engine.Sandbox]]
    ) -> Lease:
        """The lease of the sandbox `acquire` gets, holding the place of `address` just taken
        (given back when there is no sandbox after all)."""
        try:
            sandbox = await acquire()
        except BaseException:
            self.addresses.release(address)
            raise
        lease = self.leases[owner] = Lease(self, owner, sandbox, address)
        return lease

    async def _acquire(self, owner: str, terminal: Terminal) -> engine.Sandbox:
        try:
            return await engine.acquire(owner, on_queue=terminal.on_queue)
        finally:
            terminal.queued = False

    # Whole-process teardown ---------------------------------------------------------------------

    def end_owner(self, owner: str, code: int) -> Lease | None:
        """No grace period: closes every terminal of `owner` (a connection still showing one is
        closed with `code`) and releases its sandbox; returns that lease (None if the owner had
        no sandbox yet). The removal is only under way: sandbox.shutdown waits for it."""
        lease = self.leases.get(owner)
        for terminal in self.terminals_of(owner):
            terminal.finish(code, None)
        if lease is None:
            return None
        lease.release()
        return lease

    def hand_over(self, owner: str | None = None, code: int = CLOSE_SERVICE_RESTART) -> None:
        """Held shells, this process stopping: closes the terminals of `owner` (of everyone when
        None) with `code` and drops their leases, leaving the shells and the sandboxes to the web
        process the pages reconnect to, which adopts them (docs/despliegue.md)."""
        owners = [owner] if owner is not None else list(set(self.by_owner) | set(self.leases))
        for each in owners:
            for terminal in self.terminals_of(each):
                terminal.detach_only = True
                terminal.finish(code, None)
            lease = self.leases.get(each)
            if lease is not None:
                lease.release(remove=False)

    def end_session(self, owner: str, event: dict[str, Any]) -> None:
        """The owner's browser session ended (logout): every terminal of it, shown or in its
        grace period, is told and closed with 4403, and the sandbox goes."""
        for terminal in self.terminals_of(owner):
            terminal.finish(CLOSE_NO_SESSION, event)
        lease = self.leases.get(owner)
        if lease is not None:
            lease.release()

    def going_away(self, code: int = CLOSE_SERVICE_RESTART) -> list[engine.Sandbox]:
        """The server stops: ends every terminal and releases every sandbox of this registry;
        returns those sandboxes."""
        owners = set(self.by_owner) | set(self.leases)
        return [lease.sandbox for owner in owners if (lease := self.end_owner(owner, code))]

    async def settle(self, timeout: float) -> None:
        """Waits up to `timeout` seconds for the terminals' tasks; cancels what is left."""
        if self._tasks:
            _, stuck = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in stuck:
                task.cancel()

    async def close_all(self) -> None:
        """Closes every terminal and removes every sandbox this process holds; for tests (the
        server itself uses sandbox.shutdown, which also waits for the removals)."""
        self.going_away(CLOSE_GOING_AWAY)
        await self.settle(10)


_registries: PerLoop[TerminalRegistry] = PerLoop(TerminalRegistry)


def registries() -> list[tuple[asyncio.AbstractEventLoop, TerminalRegistry]]:
    """Every live registry of this process, with its loop (for callers on other threads)."""
    return _registries.items()


def get_registry() -> TerminalRegistry:
    """The registry of the running event loop (one per server process; one per test)."""
    return _registries.get()
