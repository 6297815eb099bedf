"""Lesson page throughput and latency under concurrent load, on loopback.

    .venv/bin/python bench/lesson_load.py [--clients 50] [--duration 10] [--max-requests 50000]

Starts the app with uvicorn in a subprocess on a free loopback port (DEBUG=0, HTTPS=0, static
files collected, the sandbox switched off: only lesson pages are measured), warms the caches,
then measures two things for the same lesson URL:

1. saturation: `--clients` connections sending requests back to back (closed loop; wrk when it is
   installed, else the built-in asyncio client). Gives the throughput; its latency is mostly
   queueing, since every client waits for the one before it.
2. paced: `--clients` connections each sending one request every `--interval` seconds (open loop,
   below saturation), like a class of students clicking around. Gives the latency one request
   sees when the server is busy but not overloaded.

Each phase is bounded in time (--duration) and in requests (--max-requests), and prints requests
per second, p50 / p95 / p99 latency and the number of errors (connection errors, timeouts, any
status other than 200). Nothing is asserted: these are figures to read and compare.
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
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = "/lecciones/tu-primer-contenedor/"

WRK_SCRIPT = """
local limit = tonumber(os.getenv("BENCH_PER_THREAD_LIMIT") or "0")
local count = 0
response = function(status, headers, body)
  count = count + 1
  if limit > 0 and count >= limit then wrk.thread:stop() end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nBENCH {"requests": %d, "duration_us": %d, "p50": %d, "p95": %d, "p99": %d, '
    .. '"max": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass
class Result:
    label: str
    requests: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    def finish(self) -> None:
        if self.latencies_ms:
            ordered = sorted(self.latencies_ms)
            self.p50 = statistics.median(ordered)
            self.p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
            self.p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    def show(self) -> str:
        rate = self.requests / self.seconds if self.seconds else 0.0
        kinds = ", ".join(f"{k}: {v}" for k, v in self.error_kinds.items() if v) or "none"
        return (
            f"{self.label}\n"
            f"  requests: {self.requests} in {self.seconds:.1f} s = {rate:.0f} req/s\n"
            f"  latency: p50 {self.p50:.1f} ms, p95 {self.p95:.1f} ms, p99 {self.p99:.1f} ms\n"
            f"  errors: {self.errors} ({kinds})"
        )


# --- The server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBUG="0",
        HTTPS="0",
        MUELLE_INSECURE_DEV_KEY="1",
        SANDBOX_ENABLED="0",
        SANDBOX_WARM_POOL="0",
        DOCKER_GATEWAY_ENABLED="0",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def collect_static(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def start_server(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "tutorial.asgi:application",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning", "--lifespan", "off",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env)


def wait_until_up(url: str, deadline: float) -> str:
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
                return response.read().decode()
        except Exception as exc:  # noqa: BLE001 - still starting
            last_error = exc
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {url}: {last_error}")


# --- Load generators -----------------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _client(
    port: int,
    path: str,
    result: Result,
    stop_at: float,
    budget: list[int],
    interval: float,
    offset: float,
) -> None:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: muelle-bench\r\n"
        "Accept: text/html\r\n\r\n"
    ).encode()
    reader = writer = None
    next_at = time.monotonic() + offset
    while time.monotonic() < stop_at and budget[0] > 0:
        if interval:
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at += interval
            if time.monotonic() >= stop_at:
                break
        budget[0] -= 1
        started = time.perf_counter()
        try:
            if reader is None or writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            status = await asyncio.wait_for(_read_response(reader), timeout=10)
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            result.errors += 1
            kind = type(exc).__name__
            result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        result.requests += 1
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        if status != 200:
            result.errors += 1
            result.error_kinds[f"status {status}"] = (
                result.error_kinds.get(f"status {status}", 0) + 1
            )
    if writer is not None:
        writer.close()


async def asyncio_load(
    label: str, port: int, path: str, clients: int, duration: float, limit: int, interval: float
) -> Result:
    result = Result(label)
    budget = [limit]
    started = time.monotonic()
    stop_at = started + duration
    await asyncio.gather(
        *(
            _client(port, path, result, stop_at, budget, interval, interval * i / clients)
            for i in range(clients)
        )
    )
    result.seconds = time.monotonic() - started
    result.finish()
    return result


def wrk_load(port: int, path: str, clients: int, duration: float, limit: int) -> Result:
    threads = 2 if clients >= 2 else 1
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    env = dict(os.environ, BENCH_PER_THREAD_LIMIT=str(max(1, limit // threads)))
    try:
        output = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{clients}",
                f"-d{max(1, int(duration))}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}{path}",
            ],  # fmt: skip
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    data = json.loads(line[len("BENCH ") :])
    result = Result(f"saturation, {clients} clients back to back (wrk)")
    result.requests = data["requests"]
    result.seconds = data["duration_us"] / 1e6
    result.p50, result.p95, result.p99 = (data[k] / 1000 for k in ("p50", "p95", "p99"))
    result.error_kinds = {k: data[k] for k in ("connect", "read", "write", "timeout", "status")}
    result.errors = sum(result.error_kinds.values())
    return result


# --- Main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--max-requests", type=int, default=50_000, help="per phase")
    parser.add_argument("--interval", type=float, default=1.0, help="paced: seconds per client")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--path", default=DEFAULT_PATH)
    parser.add_argument("--no-wrk", action="store_true", help="use the asyncio client only")
    args = parser.parse_args()

    env = server_env()
    print("Collecting static files…", flush=True)
    collect_static(env)
    port = free_port()
    server = start_server(port, args.workers, env)
    try:
        url = f"http://127.0.0.1:{port}{args.path}"
        page = wait_until_up(url, time.monotonic() + 60)
        if 'id="lesson-content"' not in page:
            raise RuntimeError(f"{url} did not answer a lesson page")
        for _ in range(20 * args.workers):  # fill every worker's caches
            wait_until_up(url, time.monotonic() + 10)
        print(
            f"uvicorn, {args.workers} worker(s), DEBUG=0, on {os.cpu_count()} CPU(s); "
            f"GET {args.path} ({len(page.encode()) // 1024} KiB); load average before: "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            flush=True,
        )

        if shutil.which("wrk") and not args.no_wrk:
            saturation = wrk_load(port, args.path, args.clients, args.duration, args.max_requests)
        else:
            saturation = asyncio.run(
                asyncio_load(
                    f"saturation, {args.clients} clients back to back (asyncio)",
                    port,
                    args.path,
                    args.clients,
                    args.duration,
                    args.max_requests,
                    0.0,
                )  # fmt: skip
            )
        print(saturation.show(), flush=True)

        paced = asyncio.run(
            asyncio_load(
                f"paced, {args.clients} clients, one request every {args.interval:g} s each "
                f"({args.clients / args.interval:.0f} req/s offered)",
                port,
                args.path,
                args.clients,
                args.duration,
                args.max_requests,
                args.interval,
            )  # fmt: skip
        )
        print(paced.show(), flush=True)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
