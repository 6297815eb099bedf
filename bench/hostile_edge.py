"""The attacker's run at the HTTP edge and the terminal's front door, replayed against the real
server (tutorial/server.py in a subprocess, harness/live_server.py), with figures:

* --sessions N: one address makes N sessions with a CSRF cookie/header pair (as the attacker
  did) and opens a terminal in each, with SANDBOX_MAX_LIVE=N; prints how many sandboxes that
  address got, how many of its terminals wait in its own line, and how long a student from
  another address (through a trusted proxy header) waits for a shell meanwhile. The attacker's
  run (issue 9) held all 60 of 60 slots in ~15 s and real students queued.
* --uploads N: N clients at once each declare a 100 MB body, and N more send a chunked body with
  no end; prints how much was sent before the server answered, the answers, the server's RSS
  and the largest size of its temporary folder meanwhile (the attacker's run: ~1 GB for ten).
* --slow N: N bodies trickled a byte a second; prints how many the server cut and when
  (HTTP_BODY_TIMEOUT, set to --body-timeout here).

    .venv/bin/python bench/hostile_edge.py [--sessions 20] [--uploads 10] [--slow 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import shutil
import socket
import tempfile
import time
from pathlib import Path

from common import ROOT  # noqa: F401  (puts the project on sys.path)

from harness.live_server import LiveServer, instance_containers, remove_containers
from harness.raw_http import csrf_headers, head, read_response, request, trickle_post

HUNDRED_MB = 100 * 1024 * 1024
STUDENT_PATIENCE = 60


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def folder_bytes(folder: Path) -> int:
    """Bytes in `folder`, counting files already unlinked but held open by the server."""
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return total


def held_tmp_bytes(pid: int, folder: Path) -> int:
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(folder)):
                total += os.stat(f"/proc/{pid}/fd/{fd}").st_size
        except OSError:
            continue
    return total


async def sessions_attack(server: LiveServer, count: int) -> None:
    from websockets.asyncio.client import connect

    started = time.monotonic()
    cookies = []
    for _ in range(count):
        response = await asyncio.to_thread(
            request, server.port, "POST", "/sandbox/sesion/", csrf_headers()
        )
        cookie = next(
            (c.split(";")[0] for c in response.headers.get("set-cookie", []) if "sessionid=" in c),
            None,
        )
        if cookie:
            cookies.append(cookie)
    made = time.monotonic() - started

    async def open_one(cookie: str, n: int, extra: dict[str, str]) -> tuple[object, dict]:
        ws = await connect(
            f"ws://127.0.0.1:{server.port}/ws/terminal/?t=bench-edge-{n:04d}-padding-xxxx",
            origin=server.url,
            additional_headers={"Cookie": cookie, **extra},
            open_timeout=120,
            max_size=2**20,
        )
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 180))  # type: ignore[arg-type]
            if event["type"] in ("ready", "queued"):
                return ws, event

    opened = await asyncio.gather(*(open_one(c, n, {}) for n, c in enumerate(cookies)))
    attacker_ready = sum(1 for _, event in opened if event["type"] == "ready")
    # Those that got `queued` may still be on their way to a shell in the server's line: wait
    # until the engine settles, then count the containers.
    await asyncio.sleep(3)
    containers = len(instance_containers(server.instance))
    student = await asyncio.to_thread(server.session_cookie)
    asked = time.monotonic()
    ws, first = await open_one(student, 9999, {"X-Forwarded-For": "203.0.113.9"})
    kind, place = first["type"], first.get("position")
    try:
        while kind != "ready":
            raw = await asyncio.wait_for(ws.recv(), STUDENT_PATIENCE)  # type: ignore[attr-defined]
            event = json.loads(raw)
            kind, place = event["type"], event.get("position", place)
        student_wait = f"shell in {time.monotonic() - asked:.2f} s"
    except TimeoutError:
        student_wait = f"no shell within {STUDENT_PATIENCE} s (still queued, place {place})"
    print(
        f"sessions: {len(cookies)}/{count} sessions made by one address in {made:.1f} s; "
        f"its terminals: {attacker_ready} ready at once, "
        f"{len(opened) - attacker_ready} queued in its own line; "
        f"{containers} containers of {count} slots (CLIENT_MAX_SANDBOXES default ¾); "
        f"a student from another address: {student_wait}"
    )
    for ws, _ in opened:
        await ws.close()  # type: ignore[attr-defined]
    await ws.close()  # type: ignore[attr-defined]


def declared_upload(port: int) -> tuple[int, int]:
    """(status, body bytes sent before it) for a declared 100 MB body sent at full speed."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            head(
                "POST",
                "/sandbox/sesion/",
                port,
                {**csrf_headers(), "Content-Length": str(HUNDRED_MB)},
            )
        )
        return stream_until_answered(sock, lambda chunk: chunk)


def chunked_upload(port: int) -> tuple[int, int]:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            head(
                "POST", "/sandbox/sesion/", port, {**csrf_headers(), "Transfer-Encoding": "chunked"}
            )
        )
        return stream_until_answered(
            sock, lambda chunk: f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        )


def stream_until_answered(sock: socket.socket, frame) -> tuple[int, int]:  # noqa: ANN001
    chunk = frame(b"x" * 65536)
    sent = 0
    sock.setblocking(False)
    while sent < HUNDRED_MB:
        readable, writable, _ = select.select([sock], [sock], [], 10)
        if readable:
            break
        if writable:
            try:
                sent += sock.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
    sock.setblocking(True)
    try:
        return read_response(sock).status, sent
    except (ConnectionError, OSError):
        return 0, sent


async def uploads_attack(server: LiveServer, count: int, spool: Path) -> None:
    pid = server.process.pid  # type: ignore[union-attr]
    rss_before = rss_mib(pid)
    peak_tmp = 0
    peak_rss = rss_before
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    jobs = [loop.run_in_executor(None, declared_upload, server.port) for _ in range(count)]
    jobs += [loop.run_in_executor(None, chunked_upload, server.port) for _ in range(count)]
    pending = set(jobs)
    while pending:
        done, pending = await asyncio.wait(pending, timeout=0.05)
        peak_tmp = max(peak_tmp, folder_bytes(spool) + held_tmp_bytes(pid, spool))
        peak_rss = max(peak_rss, rss_mib(pid))
    took = time.monotonic() - started
    results = [job.result() for job in jobs]
    declared = results[:count]
    chunked = results[count:]
    print(
        f"uploads: {count} declared 100 MB bodies → answers {sorted({s for s, _ in declared})}, "
        f"{max(b for _, b in declared) / 2**20:.1f} MiB sent at most before the answer; "
        f"{count} endless chunked bodies → answers {sorted({s for s, _ in chunked})}, "
        f"{max(b for _, b in chunked) / 2**20:.1f} MiB sent at most; all answered in {took:.1f} s; "
        f"server temp folder peak {peak_tmp} bytes; server RSS {rss_before:.0f} → peak "
        f"{peak_rss:.0f} MiB"
    )


def slow_body(port: int) -> tuple[int, float, int]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sent = trickle_post(sock, port, "/sandbox/sesion/", 1000, every=1.0)
        try:
            status = read_response(sock).status
        except (ConnectionError, OSError):
            status = 0
    return status, time.monotonic() - started, sent


async def slow_attack(server: LiveServer, count: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    results = await asyncio.gather(
        *(loop.run_in_executor(None, slow_body, server.port) for _ in range(count))
    )
    statuses = sorted({s for s, _, _ in results})
    cut = [t for _, t, _ in results]
    healthy = request(server.port, "GET", "/lecciones/que-es-docker/").status
    print(
        f"slow bodies: {count} trickled a byte a second (HTTP_BODY_TIMEOUT {timeout:g} s) → "
        f"answers {statuses}, cut after {min(cut):.1f}–{max(cut):.1f} s with at most "
        f"{max(b for _, _, b in results)} of 1000 bytes sent; a page GET afterwards → {healthy}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--slow", type=int, default=20)
    parser.add_argument("--body-timeout", type=float, default=5.0)
    args = parser.parse_args()
    assert args.sessions <= 60 and args.uploads <= 20 and args.slow <= 100, "bounded"

    tmp = Path(tempfile.mkdtemp(prefix="muelle-edge-"))
    spool = tmp / "spool"
    spool.mkdir()
    server = LiveServer(
        tmp / "db.sqlite3",
        f"bench-edge-{int(time.time())}",
        SANDBOX_MAX_LIVE=str(max(args.sessions, 4)),
        TRUSTED_PROXIES="127.0.0.1",
        HTTP_BODY_TIMEOUT=str(args.body_timeout),
        TMPDIR=str(spool),
    )
    try:
        server.migrate()
        server.start()
        if args.uploads:
            asyncio.run(uploads_attack(server, args.uploads, spool))
        if args.slow:
            asyncio.run(slow_attack(server, args.slow, args.body_timeout))
        if args.sessions:
            asyncio.run(sessions_attack(server, args.sessions))
    except Exception:
        print(f"server log (tail):\n{server.log.read_text()[-3000:]}")
        raise
    finally:
        server.__exit__(None, None, None)
        server.stop()
        remove_containers(server.instance)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
