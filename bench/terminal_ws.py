"""Terminal websocket latency, measured end to end through a real server.

Starts the real app with uvicorn (websockets-sansio) on a free loopback port in a subprocess and
talks to it with the `websockets` client, as a browser would:

* connect → first prompt byte, cold (no warm pool: a container is created) and warm (the pool
  has one ready);
* keystroke echo round trip (a byte typed at the prompt and its echo);
* a burst of students connecting at once (time to the first byte of each).

Prints median and p95 of each. Loopback only; bounded in count and time; every container it
made is removed at the end (its own SANDBOX_INSTANCE, pruned with the engine's cleanup).

    .venv/bin/python bench/terminal_ws.py [--rounds 10] [--burst 30] [--burst-rounds 2]

Targets on the 2-core reference machine: warm p50 ≤ 150 ms, cold p50 ≤ 400 ms, echo p50 ≤ 20 ms,
burst of 30 p95 ≤ 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import tempfile
import time
from pathlib import Path

from common import alarm, configure_django, make_sessions, report

from harness.live_server import LiveServer

DEADLINE = 15 * 60  # the whole run, seconds


class Tab:
    """One websocket: the time to its first output byte, and typing with echo timing."""

    def __init__(self, server: LiveServer, session_key: str) -> None:
        self.server = server
        self.session_key = session_key
        self.terminal_id = secrets.token_urlsafe(16)
        self.ws: object | None = None
        self.accepted = self.ready = 0.0  # seconds from the start, for the breakdown

    async def open(self) -> float:
        """Connects; returns seconds from starting the handshake to the first output byte."""
        from websockets.asyncio.client import connect

        started = time.perf_counter()
        self.ws = await connect(
            self.server.url.replace("http", "ws", 1)
            + f"/ws/terminal/?t={self.terminal_id}&rows=24&cols=80",
            origin=self.server.url,  # type: ignore[arg-type]  # own origin, port included
            additional_headers={"Cookie": f"sessionid={self.session_key}"},
            max_size=None,
            open_timeout=60,
        )
        self.accepted = time.perf_counter() - started
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), 120)  # type: ignore[attr-defined]
            if isinstance(frame, bytes):
                return time.perf_counter() - started
            event = json.loads(frame)
            if event["type"] == "ready":
                self.ready = time.perf_counter() - started
            if event["type"] in {"notice", "exit"} and event.get("level") != "info":
                raise RuntimeError(f"terminal refused: {event}")

    async def settle(self, quiet: float = 0.3) -> None:
        """Reads until the shell has been quiet for `quiet` seconds (the prompt is drawn)."""
        with contextlib.suppress(TimeoutError):
            while True:
                await asyncio.wait_for(self.ws.recv(), quiet)  # type: ignore[attr-defined]

    async def echo_round_trip(self, byte: bytes, echo: bytes) -> float:
        """Seconds from sending `byte` until its `echo` comes back."""
        ws = self.ws
        started = time.perf_counter()
        await ws.send(byte)  # type: ignore[attr-defined]
        seen = b""
        while echo not in seen:
            frame = await asyncio.wait_for(ws.recv(), 10)  # type: ignore[attr-defined]
            if isinstance(frame, bytes):
                seen += frame
        return time.perf_counter() - started

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()  # type: ignore[attr-defined]


def warm_count() -> int:
    from django.conf import settings

    from sandbox.models import SandboxRecord

    return SandboxRecord.objects.filter(
        instance=settings.SANDBOX_INSTANCE, state=SandboxRecord.State.POOL
    ).count()


def wait_for_warm_pool(size: int, timeout: float = 120) -> None:
    """Waits until the server's engine has `size` idle, pre-started sandboxes."""
    if size <= 0:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if warm_count() >= size:
            time.sleep(0.3)  # let the filler finish the container it is starting
            return
        time.sleep(0.1)
    print(f"  (warm pool did not reach {size} in {timeout:.0f} s)", flush=True)


def cleanup(instance: str) -> None:
    """Removes every container of the bench's instance (also the ones being removed)."""
    import docker.errors

    from sandbox import engine, hardening

    def containers() -> list[dict[str, object]]:
        label = f"{hardening.LABEL_INSTANCE}={instance}"
        return engine.call_sync(lambda api: api.containers(all=True, filters={"label": [label]}))

    removed: set[str] = set()
    deadline = time.monotonic() + 60
    while (found := containers()) and time.monotonic() < deadline:
        for item in found:
            with contextlib.suppress(docker.errors.APIError):
                engine.call_sync(lambda api, cid=item["Id"]: api.remove_container(cid, force=True))
            removed.add(str(item["Id"]))
        time.sleep(0.2)
    # Their rows too: the capacity counts the table, and the next phase must start empty (the
    # reaper would clear them only after its interval).
    from sandbox.models import SandboxRecord

    SandboxRecord.objects.filter(instance=instance).delete()
    print(f"  cleanup: {len(removed)} container(s) of instance {instance} removed", flush=True)


async def measure_first_byte(server: LiveServer, sessions: list[str], warm: int) -> list[float]:
    times = []
    for key in sessions:
        await asyncio.to_thread(wait_for_warm_pool, warm)
        tab = Tab(server, key)
        times.append(await tab.open())
        await tab.settle()
        await tab.close()
    return times


async def measure_echo(server: LiveServer, session: str, count: int) -> list[float]:
    tab = Tab(server, session)
    await tab.open()
    await tab.settle(0.5)
    times = []
    for _ in range(count):
        times.append(await tab.echo_round_trip(b"x", b"x"))
        await tab.echo_round_trip(b"\x7f", b"\x08")  # erase it again: the line stays short
        await asyncio.sleep(0.02)  # a fast typist, well under TERMINAL_INPUT_RATE
    await tab.close()
    return times


async def measure_burst(
    server: LiveServer, sessions: list[str]
) -> list[tuple[float, float, float]]:
    """(handshake accepted, `ready`, first byte) for each student of one burst."""
    tabs = [Tab(server, key) for key in sessions]
    first = await asyncio.gather(*(tab.open() for tab in tabs))
    await asyncio.gather(*(tab.close() for tab in tabs))
    return [(tab.accepted, tab.ready, t) for tab, t in zip(tabs, first, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="connections per first-byte run")
    parser.add_argument("--echo", type=int, default=200, help="keystrokes timed")
    parser.add_argument("--burst", type=int, default=30, help="students connecting at once")
    parser.add_argument("--burst-rounds", type=int, default=2)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="muelle-bench-"))
    instance = f"bench-{os.getpid()}"
    db = tmp / "bench.sqlite3"
    configure_django(db, instance)
    total = args.rounds * 2 + 3 + args.burst * args.burst_rounds
    sessions = iter(make_sessions(total))

    print(f"Muelle terminal websocket bench ({os.cpu_count()} CPUs, instance {instance})")
    try:
        with alarm(DEADLINE):
            # Cold: no pool, every connection creates and starts its container.
            with LiveServer(db, instance, SANDBOX_WARM_POOL="0") as server:
                cold = asyncio.run(
                    measure_first_byte(server, [next(sessions) for _ in range(args.rounds)], 0)
                )
                echo = asyncio.run(measure_echo(server, next(sessions), args.echo))
            cleanup(instance)
            report("connect → first byte, cold", cold, "target p50 ≤ 400 ms")
            report("keystroke echo round trip", echo, "target p50 ≤ 20 ms")

            # Warm: a pool of 2, full again before each connection.
            with LiveServer(db, instance, SANDBOX_WARM_POOL="2") as server:
                warm = asyncio.run(
                    measure_first_byte(server, [next(sessions) for _ in range(args.rounds)], 2)
                )
            cleanup(instance)
            report("connect → first byte, warm pool", warm, "target p50 ≤ 150 ms")

            # A class opening the lesson at once: the pool holds the whole burst.
            max_live = args.burst * 2 + 4
            burst_env = {
                "SANDBOX_WARM_POOL": str(args.burst),
                "SANDBOX_MAX_LIVE": str(max_live),
                # Each round is a new class: the previous one's closed tabs must not keep their
                # sandboxes (and capacity) for the reconnect grace.
                "SANDBOX_RECONNECT_GRACE": "0",
            }
            burst: list[tuple[float, float, float]] = []
            with LiveServer(db, instance, **burst_env) as server:
                for _ in range(args.burst_rounds):
                    wait_for_warm_pool(args.burst, timeout=180)
                    burst += asyncio.run(
                        measure_burst(server, [next(sessions) for _ in range(args.burst)])
                    )
            first_bytes = [b[2] for b in burst]
            report(f"burst of {args.burst}: first byte of each", first_bytes, "target p95 ≤ 3 s")
            report("  of which: handshake accepted", [b[0] for b in burst], "-")
            report("  of which: `ready` (sandbox + shell)", [b[1] for b in burst], "-")
            print(
                f"  (burst run with SANDBOX_WARM_POOL={args.burst}, SANDBOX_MAX_LIVE={max_live}, "
                "SANDBOX_RECONNECT_GRACE=0)"
            )
    finally:
        cleanup(instance)


if __name__ == "__main__":
    main()
