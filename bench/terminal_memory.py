"""What each extra terminal (a workspace terminal tab) costs in memory, beside a bare
`docker exec -it` in the same run.

Starts the real app (tutorial.server, a subprocess) on loopback; one student opens a terminal,
then `--extra` more in the same sandbox through the websocket, as terminal tabs do. For each
extra terminal it prints:

* the server process's RSS (VmRSS of the uvicorn process: the Terminal, its buffers, the exec's
  socket and the websocket), and
* the sandbox's cgroup memory (the engine's stats: usage minus page cache, as `docker stats`
  counts it): the shell Muelle starts there (`bash -l`).

Raw reference, same sandbox, same run, after Muelle's extra terminals are closed: `--extra`
bare `docker exec -it <sandbox> sh` (the CLI on a pty, as in a real terminal), then as many
`docker exec -it <sandbox> bash -l` (Muelle's own shell): the sandbox's cgroup memory per exec,
and the RSS of each `docker` CLI process (the client a student would otherwise keep per terminal).

RSS and cgroup figures move with whatever else the machine does: read the deltas beside the
reference printed in the same run.

    .venv/bin/python bench/terminal_memory.py [--extra 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pty
import subprocess
import tempfile
import time
from pathlib import Path

from common import alarm, configure_django, make_sessions
from terminal_ws import Tab, cleanup

from harness.live_server import LiveServer

DEADLINE = 10 * 60
SETTLE = 2.0  # seconds for shells to finish starting before a reading


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def sandbox_id(instance: str) -> str:
    from sandbox import engine, hardening

    label = f"{hardening.LABEL_INSTANCE}={instance}"
    found = engine.call_sync(lambda api: api.containers(filters={"label": [label]}))
    assert len(found) == 1, found
    return str(found[0]["Id"])


def cgroup_kib(container_id: str) -> int:
    """The container's memory as `docker stats` shows it: usage minus page cache."""
    from sandbox import engine

    stats = engine.call_sync(lambda api: api.stats(container_id, stream=False))
    memory = stats["memory_stats"]
    detail = memory.get("stats", {})
    cache = detail.get("inactive_file", detail.get("total_inactive_file", detail.get("cache", 0)))
    return int((memory["usage"] - cache) // 1024)


async def muelle_extra(server: LiveServer, session: str, count: int) -> list[Tab]:
    tabs = [Tab(server, session) for _ in range(count)]
    for tab in tabs:  # one after the other, as a student opens tabs
        await tab.open()
        await tab.settle()
    return tabs


async def close_all(tabs: list[Tab]) -> None:
    """Closes them as the workspace closes a tab (the tab_closed code): their shells end now."""
    from sandbox.terminal_protocol import CLOSE_TAB_CLOSED

    await asyncio.gather(*(tab.ws.close(code=CLOSE_TAB_CLOSED) for tab in tabs))  # type: ignore[attr-defined]


def raw_execs(
    container_id: str, shell: list[str], count: int
) -> list[tuple[subprocess.Popen[bytes], int]]:
    """`count` `docker exec -it` clients, each on its own pty (the CLI insists on a terminal)."""
    started = []
    for _ in range(count):
        leader, follower = pty.openpty()
        process = subprocess.Popen(
            ["docker", "exec", "-it", container_id, *shell],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            start_new_session=True,
        )
        os.close(follower)
        started.append((process, leader))
    return started


def drain(execs: list[tuple[subprocess.Popen[bytes], int]]) -> None:
    """Reads what the shells printed, so no client blocks on a full pty."""
    for _, leader in execs:
        os.set_blocking(leader, False)
        try:
            while os.read(leader, 65536):
                pass
        except (BlockingIOError, OSError):
            pass


def end(execs: list[tuple[subprocess.Popen[bytes], int]]) -> None:
    for _process, leader in execs:
        try:
            os.write(leader, b"exit\r")
        except OSError:
            pass
    for process, leader in execs:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        os.close(leader)


def line(name: str, per: float, unit: str, note: str) -> None:
    print(f"{name:<58} {per:9.1f} {unit}   ({note})", flush=True)


async def measure_raw(container: str, shell: list[str], extra: int) -> None:
    name = " ".join(shell)
    before = cgroup_kib(container)
    execs = raw_execs(container, shell, extra)
    await asyncio.sleep(SETTLE)
    drain(execs)
    after = cgroup_kib(container)
    clients = sum(rss_kib(process.pid) for process, _ in execs)
    end(execs)
    await asyncio.sleep(SETTLE)
    closed = cgroup_kib(container)
    print(f"Raw reference: {extra} × `docker exec -it <sandbox> {name}` (same sandbox, same run)")
    line(
        f"  sandbox cgroup memory per exec ({name})",
        (after - before) / extra,
        "KiB",
        f"{before} → {after} KiB; after they exit {closed} KiB",
    )
    line("  docker CLI client RSS per exec", clients / extra, "KiB", "the raw client's process")


async def measure_muelle(
    server: LiveServer, session: str, container: str, pid: int, extra: int
) -> None:
    server_before, sandbox_before = rss_kib(pid), cgroup_kib(container)
    tabs = await muelle_extra(server, session, extra)
    await asyncio.sleep(SETTLE)
    server_after, sandbox_after = rss_kib(pid), cgroup_kib(container)
    await close_all(tabs)
    # Their shells are hung up in the background (an exec each): wait until the memory is back
    # (or 30 s).
    closed_at = time.monotonic()
    while (sandbox_closed := cgroup_kib(container)) > sandbox_before + 256:
        if time.monotonic() - closed_at > 30:
            break
        await asyncio.sleep(0.25)
    released = time.monotonic() - closed_at
    print(f"Muelle: {extra} extra terminals (websocket tabs) in the same sandbox")
    line(
        "  server RSS per extra terminal",
        (server_after - server_before) / extra,
        "KiB",
        f"{server_before} → {server_after} KiB",
    )
    line(
        "  sandbox cgroup memory per extra terminal (bash -l)",
        (sandbox_after - sandbox_before) / extra,
        "KiB",
        f"{sandbox_before} → {sandbox_after} KiB; {sandbox_closed} KiB {released:.1f} s after "
        "closing the tabs",
    )


async def measure(server: LiveServer, session: str, instance: str, extra: int) -> None:
    assert server.process is not None
    pid = server.process.pid
    first = Tab(server, session)
    await first.open()
    await first.settle()
    container = sandbox_id(instance)
    # Warm-up, not printed: code paths loaded once in the server, bash's and sh's pages in the
    # sandbox's cgroup (whoever starts a program first pays for its file pages).
    await close_all(await muelle_extra(server, session, 2))
    end(raw_execs(container, ["sh"], 2))
    await asyncio.sleep(SETTLE)

    await measure_raw(container, ["sh"], extra)
    await measure_raw(container, ["bash", "-l"], extra)
    await measure_muelle(server, session, container, pid, extra)
    await first.ws.close()  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extra", type=int, default=8, help="extra terminals measured")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="muelle-bench-"))
    instance = f"bench-mem-{os.getpid()}"
    db = tmp / "bench.sqlite3"
    configure_django(db, instance)
    session = make_sessions(1)[0]
    env = {
        "SANDBOX_WARM_POOL": "0",
        # The first terminal, the warm-up pair and the measured ones, all open at once.
        "SANDBOX_MAX_TERMINALS_PER_SESSION": str(args.extra + 3),
        "DOCKER_GATEWAY_ENABLED": "0",
    }
    print(
        f"Muelle terminal memory bench ({os.cpu_count()} CPUs, instance {instance}, "
        f"load {os.getloadavg()[0]:.1f})"
    )
    try:
        with alarm(DEADLINE), LiveServer(db, instance, **env) as server:
            asyncio.run(measure(server, session, instance, args.extra))
    finally:
        cleanup(instance)


if __name__ == "__main__":
    main()
