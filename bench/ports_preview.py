"""Published ports: the preview origin beside the container straight, in one run.

Prints, against the real server (`python -m tutorial.server`, one process):
- a 10 KiB page through the preview vs. the same request straight to the container (a socket
  made inside the container's network namespace by this script: what the proxy itself does, so
  the difference is the proxy): p50 of each, the ratio and the overhead (targets: ratio ≤ 1.5,
  overhead ≤ 5 ms); once from busybox httpd (one connection per request, as it closes each one)
  and once from nginx (which keeps connections alive: the preview reuses its connection to the
  container, while the straight request, as this client's, opens a new one each time);
- beside them, uvicorn alone answering the same page from memory: the floor of any Python hop
  (the part of the overhead that is the ASGI server's own, not the proxy's); and, for nginx, a
  minimal Python proxy (uvloop protocols, one kept connection into the container, no ASGI, no
  checks): the floor of any Python proxy, against which the preview's own machinery shows;
- requests per second with 50 concurrent clients, through the preview and straight;
- from `docker run -d -p` typed in the terminal to the preview answering, beside the same
  container started straight on the engine until its port answers (target ≤ 1 s);
- the server's memory per published port (target ≤ 8 MiB).

Run: .venv/bin/python bench/ports_preview.py [--requests 300] [--seconds 5]
Traffic only on loopback; every container is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import alarm, percentile  # noqa: E402
from harness.live_server import free_port  # noqa: E402

PAGE_SCRIPT = (
    "mkdir -p /tmp/w && head -c 10240 /dev/zero | tr '\\0' a > /tmp/w/index.html && "
    "exec httpd -f -p 80 -h /tmp/w"
)
NGINX_SCRIPT = (
    "head -c 10240 /dev/zero | tr '\\0' a > /usr/share/nginx/html/index.html && "
    "exec nginx -g 'daemon off;'"
)


FLOOR_APP = """
import sys, uvicorn
PAGE = b"a" * 10240
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/html"), (b"content-length", b"10240")]})
    await send({"type": "http.response.body", "body": PAGE})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), http="httptools", loop="uvloop",
            log_level="warning", lifespan="off")
"""


# The least a Python proxy can do for this page: read the request head, send a fixed request on
# one kept-alive connection made inside the container's namespace (as the preview's own are),
# relay the answer (framed by Content-Length) in one write, close.
MINIMAL_PROXY = """
import asyncio, sys, uvloop
from sandbox.ports import netns

class Upstream(asyncio.Protocol):
    def __init__(self):
        self.buffer, self.need, self.client = bytearray(), None, None
    def connection_made(self, transport):
        self.transport = transport
    def data_received(self, data):
        self.buffer += data
        if self.need is None:
            end = self.buffer.find(b"\\r\\n\\r\\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            self.need = end + 4 + int(head.split(b"content-length: ")[1].split(b"\\r\\n")[0])
        if len(self.buffer) >= self.need:
            answer = bytes(self.buffer[:self.need])
            del self.buffer[:self.need]
            self.need, client, self.client = None, self.client, None
            client.write(answer)
            client.close()

class Browser(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.seen = transport, b""
    def data_received(self, data):
        self.seen += data
        if b"\\r\\n\\r\\n" in self.seen:
            UPSTREAM.client = self.transport
            UPSTREAM.transport.write(b"GET / HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n")

async def main(port, pid):
    global UPSTREAM
    namespace = netns.Namespace.of_process(pid)
    sock = await netns.socket_inside(namespace, netns.client("127.0.0.1"))
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", 80))
    _, UPSTREAM = await loop.create_connection(Upstream, sock=sock)
    await loop.create_server(Browser, "127.0.0.1", port)
    await asyncio.Event().wait()

uvloop.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


async def helper(code: str, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    """`python -c code <port> args...` once it listens on <port> (loopback), and the port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(port), *args], cwd=ROOT, stderr=subprocess.DEVNULL
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    return process, port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def http_once(open_conn, host: str, cookie: str | None = None) -> float:  # noqa: ANN001
    started = time.perf_counter()
    reader, writer = await open_conn()
    extra = f"Cookie: {cookie}\r\n" if cookie else ""
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read(-1)
    writer.close()
    assert b" 200 " in data.split(b"\r\n", 1)[0] and len(data) > 10240, data[:200]
    return time.perf_counter() - started


async def entered(student, host_port: int) -> tuple[str, str]:  # noqa: ANN001
    """«Abrir» once the port is listed (a loaded machine may take longer than the sleep)."""
    for _ in range(60):
        try:
            return await asyncio.to_thread(student.enter, host_port)
        except AssertionError:
            await asyncio.sleep(0.5)
    return await asyncio.to_thread(student.enter, host_port)


async def compare(
    label, requests, via_preview, host, cookie, straight, floor, minimal=None
) -> None:
    others = [straight, floor] + ([minimal] if minimal else [])
    for _ in range(20):  # warm-up
        await http_once(via_preview, host, cookie)
        for other in others:
            await http_once(other, "localhost")
    preview_s: list[float] = []
    straight_s, floor_s, minimal_s = samples = ([], [], [])
    for _ in range(requests):  # alternating, so drift hits all alike
        preview_s.append(await http_once(via_preview, host, cookie))
        for other, times in zip(others, samples, strict=False):
            times.append(await http_once(other, "localhost"))
    p50_preview = statistics.median(preview_s) * 1000
    p50_straight = statistics.median(straight_s) * 1000
    print(f"  {label}")
    print(
        f"    through the preview      p50 {p50_preview:7.2f} ms   p95 "
        f"{percentile(preview_s, 0.95) * 1000:7.2f} ms"
    )
    print(
        f"    straight (raw reference) p50 {p50_straight:7.2f} ms   p95 "
        f"{percentile(straight_s, 0.95) * 1000:7.2f} ms"
    )
    p50_floor = statistics.median(floor_s) * 1000
    print(
        f"    uvicorn alone, same page from memory (no proxy, no container) p50 "
        f"{p50_floor:7.2f} ms   p95 {percentile(floor_s, 0.95) * 1000:7.2f} ms"
    )
    if minimal_s:
        p50_minimal = statistics.median(minimal_s) * 1000
        print(
            f"    a minimal Python proxy (uvloop protocols, one kept connection, no ASGI) p50 "
            f"{p50_minimal:7.2f} ms   ratio p50 {p50_minimal / p50_straight:5.2f}x"
        )
    p95_ratio = percentile(preview_s, 0.95) / percentile(straight_s, 0.95)
    print(
        f"    ratio p50 {p50_preview / p50_straight:5.2f}x (target <= 1.5), overhead "
        f"{p50_preview - p50_straight:5.2f} ms (target <= 5 ms); ratio p95 {p95_ratio:5.2f}x"
    )


async def throughput(open_conn, host: str, cookie: str | None, seconds: float) -> tuple[float, int]:  # noqa: ANN001, E501
    """Answered requests per second with 50 clients at once, and how many failed (busybox
    httpd's small listen backlog refuses some connections under this load, straight or not)."""
    done = failed = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, failed
        while time.perf_counter() < deadline:
            try:
                await http_once(open_conn, host, cookie)
            except (OSError, AssertionError):
                failed += 1
                await asyncio.sleep(0.01)
                continue
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(50)))
    return done / (time.perf_counter() - started), failed


def container_pid(name_filter: str) -> int:
    ids = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"name={name_filter}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    info = json.loads(
        subprocess.run(
            ["docker", "inspect", ids[0]], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    return int(info["State"]["Pid"])


async def main(args: argparse.Namespace) -> None:
    from harness.live_server import LiveServer, remove_containers
    from harness.preview_client import Student
    from sandbox.ports import netns

    folder = Path(tempfile.mkdtemp(prefix="bench-ports-"))
    # The per-student byte rate (PREVIEW_BYTES_PER_SECOND, 4 MiB/s by default: about 400 of
    # these pages a second) is lifted, so 50 clients measure the proxy and not that cap.
    server = LiveServer(
        folder / "db.sqlite3",
        f"bench-ports-{os.getpid()}",
        SANDBOX_WARM_POOL="0",
        PREVIEW_BYTES_PER_SECOND="1g",
    )
    server.migrate()
    server.start()
    raw_names: list[str] = []
    # The floor of any Python hop: uvicorn as tutorial.server runs it (uvloop, httptools), with
    # an app that answers the same 10 KiB from memory.
    floor, floor_port = await helper(FLOOR_APP)
    minimal: subprocess.Popen[bytes] | None = None

    async def floor_conn():  # noqa: ANN202
        return await asyncio.open_connection("127.0.0.1", floor_port)

    try:
        ana = await asyncio.to_thread(Student, server)
        await ana.shell(
            f'docker run -d -m 32m --name web -p 8080:80 muelle/busybox sh -c "{PAGE_SCRIPT}"'
            " >/dev/null && sleep 1"
        )
        host, cookie = await asyncio.to_thread(ana.enter, 8080)
        pid = container_pid("_web")
        namespace = netns.Namespace.of_process(pid)
        address = "127.0.0.1"

        async def via_preview():  # noqa: ANN202
            return await asyncio.open_connection("127.0.0.1", server.port)

        # Sockets made ahead in the container's namespace, as the proxy's own are: the straight
        # path pays no more than a connect.
        ready = netns.ClientSockets(namespace, address, batch=64)

        async def straight():  # noqa: ANN202
            sock = await ready.take()
            await asyncio.get_running_loop().sock_connect(sock, (address, 80))
            return await asyncio.open_connection(sock=sock)

        print(f"10 KiB page, n={args.requests} each, one at a time")
        await compare(
            "busybox httpd", args.requests, via_preview, host, cookie, straight, floor_conn
        )

        await ana.shell(
            f'docker run -d -m 64m --name webka -p 8081:80 nginx:1.22 sh -c "{NGINX_SCRIPT}"'
            " >/dev/null && sleep 1"
        )
        ka_host, ka_cookie = await entered(ana, 8081)
        ka_namespace = netns.Namespace.of_process(container_pid("_webka"))
        ka_ready = netns.ClientSockets(ka_namespace, address, batch=64)

        async def straight_ka():  # noqa: ANN202
            sock = await ka_ready.take()
            await asyncio.get_running_loop().sock_connect(sock, (address, 80))
            return await asyncio.open_connection(sock=sock)

        minimal, minimal_port = await helper(MINIMAL_PROXY, str(container_pid("_webka")))

        async def minimal_conn():  # noqa: ANN202
            return await asyncio.open_connection("127.0.0.1", minimal_port)

        await compare(
            "nginx",
            args.requests,
            via_preview,
            ka_host,
            ka_cookie,
            straight_ka,
            floor_conn,
            minimal_conn,
        )
        ka_ready.close()
        ka_namespace.close()

        rps_preview, failed_preview = await throughput(via_preview, host, cookie, args.seconds)
        rps_straight, failed_straight = await throughput(
            straight, "localhost:8080", None, args.seconds
        )
        print(
            f"50 concurrent clients, busybox httpd, {args.seconds:.0f} s each "
            "(PREVIEW_BYTES_PER_SECOND lifted for this run)"
        )
        print(f"  through the preview      {rps_preview:7.1f} req/s   ({failed_preview} failed)")
        print(
            f"  straight (raw reference) {rps_straight:7.1f} req/s   ({failed_straight} failed)"
            f"   ratio {rps_preview / rps_straight:5.2f}"
        )
        ready.close()
        namespace.close()

        # docker run -p → the preview answers; the raw reference is the same container started
        # straight on the engine until its port answers inside its namespace.
        run_s, raw_s = [], []
        for round_ in range(args.rounds):
            await ana.shell("docker rm -f tiempo >/dev/null 2>&1; true")
            if round_ == 0:
                await ana.shell(
                    f"docker run -d -m 32m --name tiempo -p 8090:80 muelle/busybox sh -c "
                    f'"{PAGE_SCRIPT}" >/dev/null'
                )
                timed_host, timed_cookie = await asyncio.to_thread(ana.enter, 8090)
                continue
            started = time.perf_counter()
            await ana.shell(
                f"docker run -d -m 32m --name tiempo -p 8090:80 muelle/busybox sh -c "
                f'"{PAGE_SCRIPT}" >/dev/null'
            )
            while True:
                try:
                    await http_once(via_preview, timed_host, timed_cookie)
                    break
                except (AssertionError, OSError):
                    await asyncio.sleep(0.01)
            run_s.append(time.perf_counter() - started)

            name = f"bench-raw-{os.getpid()}-{round_}"
            raw_names.append(name)
            started = time.perf_counter()
            subprocess.run(
                [
                    "docker",
                    "run",
                    "-d",
                    "--name",
                    name,
                    "--network",
                    "none",
                    "--label",
                    f"muelle.instance={server.instance}",
                    "muelle/busybox",
                    "sh",
                    "-c",
                    PAGE_SCRIPT,
                ],
                capture_output=True,
                check=True,
            )
            raw_ns = netns.Namespace.of_process(container_pid(name))

            async def raw_conn(ns=raw_ns):  # noqa: ANN001, ANN202
                sock = await netns.socket_inside(ns, netns.client("127.0.0.1"))
                await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", 80))
                return await asyncio.open_connection(sock=sock)

            while True:
                try:
                    await http_once(raw_conn, "localhost")
                    break
                except (AssertionError, OSError):
                    await asyncio.sleep(0.01)
            raw_s.append(time.perf_counter() - started)
            raw_ns.close()
        print(f"docker run -d -p typed in the terminal → preview answers, n={len(run_s)}")
        print(
            f"  Muelle (terminal, gateway, ports)   p50 {statistics.median(run_s) * 1000:7.1f} ms"
            "  (target <= 1000 ms)"
        )
        print(
            f"  engine straight (raw reference)     p50 {statistics.median(raw_s) * 1000:7.1f} ms"
            f"   ratio {statistics.median(run_s) / statistics.median(raw_s):5.2f}"
        )

        # Memory: 40 more published ports (4 containers × 10), server RSS before and after.
        assert server.process is not None
        before = rss_kib(server.process.pid)
        for index in range(4):
            first = 9000 + index * 10
            await ana.shell(
                f"docker run -d -m 16m --name mem{index} -p {first}-{first + 9}:{first}-{first + 9}"
                " muelle/busybox sleep 600 >/dev/null"
            )
        await asyncio.sleep(1)
        after = rss_kib(server.process.pid)
        per_port = (after - before) / 40
        print(
            f"server memory per published port: {per_port:.1f} KiB "
            f"(RSS {before} → {after} KiB for 40 more ports; target <= 8 MiB; nothing runs "
            "beside the server per port)"
        )
    finally:
        for process in (floor, minimal):
            if process is not None:
                process.terminate()
                process.wait(10)
        if raw_names:
            subprocess.run(["docker", "rm", "-f", *raw_names], capture_output=True, check=False)
        try:
            server.terminate(within=30)
        finally:
            server.stop()
            remove_containers(server.instance)
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=11)
    with alarm(900):
        asyncio.run(main(parser.parse_args()))
