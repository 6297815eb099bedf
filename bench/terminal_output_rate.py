"""Terminal output rate per session, through a real server: how many bytes per second each tab
gets while `yes` floods in two tabs of one student and one tab of another.

TERMINAL_OUTPUT_RATE is per session, so the first student's two tabs together should get about
one rate and the second student about one rate of their own. tests/terminal/
test_output_rate_per_session.py checks which budget each terminal is charged to; the figures
(which depend on the machine) are printed here.

    .venv/bin/python bench/terminal_output_rate.py [--rate 65536] [--seconds 4]

Loopback only; its own SQLite database and SANDBOX_INSTANCE; its containers are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.live_server import LiveServer, remove_containers  # noqa: E402


async def collect(sockets: list, seconds: float) -> list[int]:
    """Bytes each socket received in `seconds` (the loop's clock: this is the bench's figure)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    counts = [0] * len(sockets)

    async def pump(index: int) -> None:
        while (left := until - loop.time()) > 0:
            try:
                frame = await asyncio.wait_for(sockets[index].recv(), min(0.2, left))
            except TimeoutError:
                continue
            if isinstance(frame, bytes):
                counts[index] += len(frame)

    await asyncio.gather(*(pump(i) for i in range(len(sockets))))
    return counts


async def measure(server: LiveServer, seconds: float) -> list[int]:
    student, other = server.session_cookie(), server.session_cookie()
    cookies = [student, student, other]
    sockets = [await server.open_terminal(c, secrets.token_urlsafe(16)) for c in cookies]
    for ws in sockets:
        await ws.send(b"yes\r")
    await collect(sockets, 1.5)  # past the first bursts: every budget flows at its rate
    counts = await collect(sockets, seconds)
    for ws in sockets:
        await ws.send(b"\x03")
        await ws.close()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=64 * 1024, help="TERMINAL_OUTPUT_RATE, B/s")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="muelle-bench-"))
    instance = f"bench-rate-{os.getpid()}"
    server = LiveServer(
        tmp / "bench.sqlite3",
        instance,
        SANDBOX_WARM_POOL="0",
        TERMINAL_OUTPUT_RATE=str(args.rate),
    )
    try:
        server.migrate()
        with server:
            first, second, theirs = asyncio.run(measure(server, args.seconds))
    finally:
        remove_containers(instance)
        shutil.rmtree(tmp, ignore_errors=True)

    def share(count: int) -> str:
        per_second = count / args.seconds
        return f"{per_second / 1024:7.1f} KiB/s ({per_second / args.rate:4.2f} of the rate)"

    print(f"TERMINAL_OUTPUT_RATE {args.rate / 1024:.0f} KiB/s, {args.seconds:.0f} s of `yes`")
    print(f"  student A, tab 1:     {share(first)}")
    print(f"  student A, tab 2:     {share(second)}")
    print(f"  student A, together:  {share(first + second)}   (one shared budget: about 1)")
    print(f"  student B, one tab:   {share(theirs)}   (a budget of their own: about 1)")


if __name__ == "__main__":
    main()
