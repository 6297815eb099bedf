"""Sockets made ahead inside a container's network namespace (sandbox.ports.netns.ClientSockets),
in a real container's namespace: a burst of connections shares one refill at a time (each
waiter once made a batch of eight of its own and left seven open), and closing them while a
connection waits gives it an OSError, not a cancellation it never asked for."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator

import pytest

from sandbox.ports import netns

pytestmark = pytest.mark.docker

BURST = 20


@pytest.fixture
def namespace() -> Iterator[netns.Namespace]:
    started = subprocess.run(
        ["docker", "run", "-d", "--network", "none", "muelle/busybox", "sleep", "300"],
        capture_output=True,
        text=True,
        check=True,
    )
    container = started.stdout.strip()
    try:
        pid = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Pid}}", container],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        handle = netns.Namespace.of_process(int(pid))
        yield handle
        handle.close()
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_a_burst_of_takers_shares_one_refill_at_a_time(namespace) -> None:
    ready = netns.ClientSockets(namespace, "127.0.0.1", batch=8)
    before = _open_fds()
    taken = await asyncio.gather(*(ready.take() for _ in range(BURST)))
    await asyncio.sleep(0.5)  # a refill started by the last take may still be running
    try:
        assert len({sock.fileno() for sock in taken}) == BURST
        made = _open_fds() - before
        assert made <= BURST + ready.batch, made
    finally:
        for sock in taken:
            sock.close()
        ready.close()


async def test_closing_while_a_connection_waits_gives_it_an_oserror(namespace) -> None:
    ready = netns.ClientSockets(namespace, "127.0.0.1")
    waiting = asyncio.ensure_future(ready.take())
    await asyncio.sleep(0)  # it has asked for the first refill
    ready.close()
    with pytest.raises(OSError):
        await waiting
