"""Lesson page throughput beside a static file from the same server process, on loopback.

    .venv/bin/python bench/lesson_load.py [--clients 50] [--duration 5] [--rounds 3] [--workers 1]

Starts the app with uvicorn in a subprocess on a free loopback port (DEBUG=0, HTTPS=0, static
files collected, its own throwaway SQLite database, the sandbox switched off: only pages are
measured), warms the caches, then measures in the same run, one after the other:

1. the raw reference: a static file (the page's own stylesheet) served by the same process
   (whitenoise, through the same ASGI stack): what any request costs here;
2. the lesson page for a returning student (session and CSRF cookies, progress key);
3. the htmx swap of the lesson (HX-Request + HX-Target: lesson-content), what a student's click
   on «Siguiente» or the course list asks for;
4. the lesson page on a first visit (no cookies: every request makes a session);
5. with --floor PATH (by default a lesson's image), a Django view through every middleware that
   reads no session and no database: what the framework costs before the page does anything;

each as saturation: `--clients` connections sending requests back to back (closed loop; wrk when
installed, else the built-in asyncio client), giving requests per second and the cost of one
request relative to the static file (static req/s ÷ page req/s: 1.0 would be as cheap as a static
file). Then a paced phase for the returning student's page: `--clients` connections each sending
one request every `--interval` seconds (open loop, below saturation), for the latency a student
sees when the server is busy but not overloaded.

The saturation phases take turns for --rounds rounds (a load that changes during the run
weighs on the reference and the pages alike); the summary pools the rounds. Each phase is bounded
in time (--duration) and in requests (--max-requests) and prints requests per second, p50 / p95 /
p99 latency and errors (connection errors, timeouts, any status other than 200), with the
machine's load average. Nothing is asserted: figures to read and compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = "/lecciones/tu-primer-contenedor/"
# A lesson's image: lessons.views.lesson_asset, every middleware and a thread, no session read.
DEFAULT_FLOOR = "/lecciones/que-es-docker/recursos/maquina-virtual-y-contenedor.svg"

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


def server_env(database: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(
        SQLITE_PATH=str(database),
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


def prepare(env: dict[str, str]) -> None:
    """Static files collected (the manifest the pages name) and the bench's own database."""
    for command in (["collectstatic", "--noinput"], ["migrate"]):
        subprocess.run(
            [sys.executable, "manage.py", *command, "-v", "0"], cwd=ROOT, env=env, check=True
        )


def start_server(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "tutorial.asgi:application",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning", "--lifespan", "off",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env)


def wait_until_up(url: str, deadline: float, headers: dict[str, str] | None = None) -> str:
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback)
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
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
    headers: dict[str, str],
) -> None:
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: muelle-bench\r\n"
        f"Accept: text/html\r\n{extra}\r\n"
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


@dataclass(frozen=True)
class Load:
    """One phase: GET `path` from the server on `port` with `headers`, over `clients`
    connections, for `duration` seconds and `limit` requests at the most."""

    label: str
    port: int
    path: str
    headers: dict[str, str]
    clients: int
    duration: float
    limit: int

    @classmethod
    def of(
        cls, args: argparse.Namespace, label: str, port: int, path: str, headers: dict[str, str]
    ) -> Load:
        return cls(label, port, path, headers, args.clients, args.duration, args.max_requests)


async def asyncio_load(load: Load, interval: float) -> Result:
    result = Result(load.label)
    budget = [load.limit]
    started = time.monotonic()
    stop_at = started + load.duration
    await asyncio.gather(
        *(
            _client(
                load.port,
                load.path,
                result,
                stop_at,
                budget,
                interval,
                interval * i / load.clients,
                load.headers,
            )
            for i in range(load.clients)
        )
    )
    result.seconds = time.monotonic() - started
    result.finish()
    return result


def wrk_load(load: Load) -> Result:
    threads = 2 if load.clients >= 2 else 1
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    env = dict(os.environ, BENCH_PER_THREAD_LIMIT=str(max(1, load.limit // threads)))
    try:
        output = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{load.clients}",
                f"-d{max(1, int(load.duration))}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                *(
                    item
                    for name, value in load.headers.items()
                    for item in ("-H", f"{name}: {value}")
                ),
                f"http://127.0.0.1:{load.port}{load.path}",
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
    result = Result(f"{load.label} (wrk)")
    result.requests = data["requests"]
    result.seconds = data["duration_us"] / 1e6
    result.p50, result.p95, result.p99 = (data[k] / 1000 for k in ("p50", "p95", "p99"))
    result.error_kinds = {k: data[k] for k in ("connect", "read", "write", "timeout", "status")}
    result.errors = sum(result.error_kinds.values())
    return result


# --- Main ----------------------------------------------------------------------------------------


def returning_student(url: str) -> dict[str, str]:
    """The cookies a student's browser holds after their first visit (session with their
    progress key, CSRF), as one Cookie header."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        cookies = response.headers.get_all("Set-Cookie") or []
    pairs = [cookie.split(";", 1)[0] for cookie in cookies]
    if not any(pair.startswith("sessionid=") for pair in pairs):
        raise RuntimeError(f"{url} handed out no session: {cookies}")
    return {"Cookie": "; ".join(pairs)}


def stylesheet_path(page: str) -> str:
    """The page's own stylesheet, as the page names it (hashed by the manifest)."""
    match = re.search(r'href="(/static/css/muelle[^"]*\.css)"', page)
    if match is None:
        raise RuntimeError("the lesson page names no /static/css/muelle…css")
    return match.group(1)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def saturate(
    args: argparse.Namespace, port: int, label: str, path: str, headers: dict[str, str]
) -> Result:
    load = Load.of(
        args, f"{label}: saturation, {args.clients} clients back to back", port, path, headers
    )
    if shutil.which("wrk") and not args.no_wrk:
        result = wrk_load(load)
    else:
        result = asyncio.run(asyncio_load(replace(load, label=f"{load.label} (asyncio)"), 0.0))
    print(f"{result.show()}\n  load average after: {load_average()}", flush=True)
    return result


def rate(result: Result) -> float:
    return result.requests / result.seconds if result.seconds else 0.0


def merge(label: str, parts: list[Result]) -> Result:
    """The rounds of one phase as one figure: requests over time, latencies pooled (wrk's
    percentiles, which cannot be pooled: their median over the rounds)."""
    merged = Result(label)
    for part in parts:
        merged.requests += part.requests
        merged.seconds += part.seconds
        merged.errors += part.errors
        merged.latencies_ms.extend(part.latencies_ms)
        for kind, count in part.error_kinds.items():
            merged.error_kinds[kind] = merged.error_kinds.get(kind, 0) + count
    if merged.latencies_ms:
        merged.finish()
    else:
        merged.p50, merged.p95, merged.p99 = (
            statistics.median(getattr(part, name) for part in parts)
            for name in ("p50", "p95", "p99")
        )
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per phase and round")
    parser.add_argument("--rounds", type=int, default=3, help="the phases take turns this often")
    parser.add_argument("--max-requests", type=int, default=50_000, help="per phase")
    parser.add_argument("--interval", type=float, default=1.0, help="paced: seconds per client")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (the reference is per process)"
    )
    parser.add_argument("--path", default=DEFAULT_PATH)
    parser.add_argument(
        "--floor",
        default=DEFAULT_FLOOR,
        help="a URL served by a Django view that reads no session (empty: skip that phase)",
    )
    parser.add_argument("--no-wrk", action="store_true", help="use the asyncio client only")
    parser.add_argument("--no-paced", action="store_true", help="skip the paced phase")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="muelle-lesson-load-") as folder:
        env = server_env(Path(folder) / "bench.sqlite3")
        print("Collecting static files, migrating the bench's database…", flush=True)
        prepare(env)
        port = free_port()
        server = start_server(port, args.workers, env)
        try:
            return run(args, port)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def run(args: argparse.Namespace, port: int) -> int:
    url = f"http://127.0.0.1:{port}{args.path}"
    page = wait_until_up(url, time.monotonic() + 60)
    if 'id="lesson-content"' not in page:
        raise RuntimeError(f"{url} did not answer a lesson page")
    student = returning_student(url)
    swap = {**student, "HX-Request": "true", "HX-Target": "lesson-content"}
    static = stylesheet_path(page)
    floor = args.floor
    if floor:
        try:
            wait_until_up(f"http://127.0.0.1:{port}{floor}", time.monotonic() + 10)
        except RuntimeError:
            print(f"(no floor phase: {floor} did not answer)", flush=True)
            floor = ""
    for _ in range(20 * args.workers):  # fill every worker's caches
        wait_until_up(url, time.monotonic() + 10, student)
        wait_until_up(url, time.monotonic() + 10, swap)
    fragment = wait_until_up(url, time.monotonic() + 10, swap)
    if "<html" in fragment or 'id="lesson-content"' not in fragment:
        raise RuntimeError(f"{url} did not answer the htmx swap with the fragment")
    print(
        f"uvicorn, {args.workers} worker(s), DEBUG=0, on {os.cpu_count()} CPU(s); "
        f"GET {args.path} ({len(page.encode()) // 1024} KiB, swap "
        f"{len(fragment.encode()) // 1024} KiB), static {static}; "
        f"load average before: {load_average()}",
        flush=True,
    )

    phases = [
        ("static file (raw reference)", static, {}),
        ("lesson page, returning student", args.path, student),
        ("htmx lesson swap, returning student", args.path, swap),
        ("lesson page, first visit (no cookies)", args.path, {}),
    ]
    if floor:
        phases.append(("Django view, no session or database", floor, student))
    # The phases take turns, round after round: a machine whose load changes during the run
    # weighs on the reference and on the pages alike, so the ratios stay readable.
    rounds: dict[str, list[Result]] = {label: [] for label, _, _ in phases}
    for number in range(1, args.rounds + 1):
        print(f"\n--- round {number} of {args.rounds}", flush=True)
        for label, path, headers in phases:
            rounds[label].append(saturate(args, port, label, path, headers))
    reference, *results = (merge(label, rounds[label]) for label, _, _ in phases)

    if not args.no_paced:
        label = (
            f"lesson page, returning student: paced, {args.clients} clients, one request every "
            f"{args.interval:g} s each ({args.clients / args.interval:.0f} req/s offered)"
        )
        paced = asyncio.run(
            asyncio_load(Load.of(args, label, port, args.path, student), args.interval)
        )
        print(paced.show(), flush=True)

    print(
        f"\nall rounds, per server process ({args.workers} worker(s)); "
        "cost = static req/s ÷ page req/s"
    )
    print(f"  {reference.label:<40} {rate(reference):8.0f} req/s   p50 {reference.p50:7.1f} ms")
    for result in results:
        cost = rate(reference) / rate(result) if rate(result) else float("inf")
        print(
            f"  {result.label:<40} {rate(result):8.0f} req/s   p50 {result.p50:7.1f} ms   "
            f"cost {cost:4.2f}× the static file"
        )
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
