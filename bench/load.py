"""Load: N simulated students against the real app, end to end, on loopback.

Starts the real app with uvicorn (websockets-sansio, as scripts/serve) in a subprocess on a free
loopback port, with DEBUG=0 HTTPS=0, its own SQLite file and its own SANDBOX_INSTANCE. Each
simulated student, all at once:

1. GETs a lesson page (gets the session and CSRF cookies);
2. opens the terminal websocket with that cookie and waits for `ready` (a sandbox is started)
   and the shell's first output;
3. runs 3 commands and waits for each one's output;
4. POSTs the lesson's first exercise check (runs the check in its sandbox).

Prints, per N: wall time, throughput (students/s), p50/p95/max of every step, errors by kind,
peak server RSS and the containerd-shim memory (PSS) at the peak. Then removes every container
it made. Before each round, the raw engine's reference in the same run: N hardened create+start
at once straight through the SDK (bench/common.py), printed beside Muelle's students/s with the
ratio (issue 15's target: >= 0.8). Bounded: each student gives up after --student-timeout s,
each round after --round-timeout.

Students leave (their sandbox is released: container removed, gateway cleaned up) as soon as
they are done, so early ones leave while later ones still arrive; the report says how many did,
since the raw reference removes its containers after its window. With --stay each student keeps
the terminal until the whole round has arrived, as a class staying for the lesson would. With
--arrive-only each student only arrives (page, terminal ready) and stays: the window then holds
what the raw reference's holds, starts and nothing after them.

    .venv/bin/python bench/load.py [--students 10 50 100] [--warm-pool 0] [--stay] [--arrive-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import configure_django, raw_start_rate  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from harness.live_server import (  # noqa: E402
    LiveServer,
    instance_containers,
    remove_containers,
)

LESSON_SLUG = "que-es-docker"
EXERCISE = "kernel-compartido"
COOKIE = re.compile(r"^(sessionid|csrftoken)=([^;]*)")


def http(url: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers or {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        return response.status, response.headers.get_all("Set-Cookie") or [], response.read()


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def shim_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-f", "containerd-shim"], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def shim_pss_kib() -> int:
    return sum(pss_kib(pid) for pid in shim_pids())


def cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of `pid`, and with `children` those of its children it has waited for."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        if children:
            ticks += int(fields[13]) + int(fields[14])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def engine_pids() -> dict[str, list[int]]:
    found = {}
    for name in ("dockerd", "containerd"):
        out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout
        found[name] = [int(pid) for pid in out.split()]
    return found


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (all cores, /proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(server_pid: int) -> dict[str, float]:
    snapshot = {"machine": machine_busy_seconds(), "server": cpu_seconds(server_pid)}
    for name, pids in engine_pids().items():
        snapshot[name] = sum(cpu_seconds(pid) for pid in pids)
    # The shims of the containers alive at the snapshot (each sandbox has one; the raw
    # reference's are still alive at its snapshot) and this bench's own clients, which a real
    # class runs on its own machines but which here share the two cores with the server.
    # A shim waits for the runc it runs (create, start, each exec): their CPU is counted there.
    # Kept per process: shims of removed containers can outlive them for a moment, and a sum
    # would subtract theirs from the next window's.
    snapshot["shims"] = {pid: cpu_seconds(pid, children=True) for pid in shim_pids()}
    snapshot["bench"] = cpu_seconds(os.getpid())
    return snapshot


def settle(pid: int, within: float = 30.0) -> None:
    """Waits until `pid` spends under 20 ms of CPU in a second (at most `within` seconds)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < 0.02:
            return


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per name between two snapshots (shims: those alive at `after`, each from
    where it stood at `before`, or from nothing if it is new)."""
    spent = {name: after[name] - before[name] for name in after if name != "shims"}
    spent["shims"] = sum(cpu - before["shims"].get(pid, 0.0) for pid, cpu in after["shims"].items())
    return spent


class Sampler:
    """Peak server RSS (and shim PSS at that moment), sampled every 0.5 s in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss = 0
        self.peak_shim = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            rss = rss_kib(self.pid)
            if rss >= self.peak_rss:
                self.peak_rss = rss
            self.peak_shim = max(self.peak_shim, shim_pss_kib())

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


class Arrivals:
    """When each terminal was ready and each student left (time.monotonic()); with `stay`,
    students keep their terminal until every one of the round has arrived or failed."""

    def __init__(self, n: int, stay: bool, on_last: Callable[[], object] | None = None) -> None:
        self.n = n
        self.ready: list[float] = []
        self.left: list[float] = []
        self.failed = 0
        self.everyone = asyncio.Event() if stay else None
        self.on_last = on_last  # called once, when the last student has arrived or failed

    def arrived(self, failed: bool = False) -> None:
        if failed:
            self.failed += 1
        else:
            self.ready.append(time.monotonic())
        if len(self.ready) + self.failed >= self.n:
            if self.everyone is not None:
                self.everyone.set()
            if self.on_last is not None:
                self.on_last()
                self.on_last = None

    def releases_before_last_arrival(self) -> int:
        last = max(self.ready, default=0.0)
        return sum(1 for t in self.left if t < last)


async def student(
    n: int,
    server: LiveServer,
    pool: ThreadPoolExecutor,
    times,
    errors,
    arrivals: Arrivals | None = None,
    arrive_only: bool = False,
    timeout: float = 180,
) -> bool:
    """One student; gives up after `timeout` s of its own steps. Waiting for the others (--stay,
    --arrive-only) is not timed: a classmate who never gets a terminal must not make the ones
    already in look failed (everyone is set once each has arrived or given up)."""
    loop = asyncio.get_running_loop()
    step = "page"
    ws = None
    ready = False
    try:
        async with asyncio.timeout(timeout):
            started = time.monotonic()
            url = f"{server.url}/lecciones/{LESSON_SLUG}/"
            status, set_cookies, _ = await loop.run_in_executor(pool, http, url)
            cookies = dict(m.groups() for c in set_cookies if (m := COOKIE.match(c)))
            assert status == 200 and "sessionid" in cookies, (status, set_cookies)
            cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
            times["page"].append(time.monotonic() - started)

            step = "terminal"
            started = time.monotonic()
            ws = await connect(
                f"ws://127.0.0.1:{server.port}/ws/terminal/?t=bench-load-{n:04d}-padding-xx",
                origin=server.url,  # the page's own origin, port included (tutorial.origin)
                additional_headers={"Cookie": cookie},
                open_timeout=120,
                max_size=2**20,
            )
            # Ready as the raw reference's shell is: `ready` (the shell's exec is open) and then
            # the shell's first output (its greeting).
            greeted = False
            shown = False
            while not (greeted and shown):
                frame = await ws.recv()
                if isinstance(frame, str):
                    event = json.loads(frame)
                    assert event["type"] in {"queued", "notice", "ready"}, event
                    greeted = greeted or event["type"] == "ready"
                else:
                    shown = shown or bool(frame)
            times["terminal_ready"].append(time.monotonic() - started)
            ready = True
            if arrivals is not None:
                arrivals.arrived()
            if not arrive_only:
                step = "commands and check"
                await _commands_and_check(n, server, pool, times, errors, ws, cookies, cookie)
        if arrivals is not None and arrivals.everyone is not None:
            step = "staying"
            await arrivals.everyone.wait()
        return True
    except Exception as exc:  # noqa: BLE001 - a bench counts every failure by kind
        errors[f"{step}: {type(exc).__name__}: {str(exc)[:80]}"] += 1
        return False
    finally:
        if arrivals is not None and not ready:
            arrivals.arrived(failed=True)
        if ws is not None:
            await ws.close()
            if arrivals is not None:
                arrivals.left.append(time.monotonic())


async def _commands_and_check(
    n: int, server: LiveServer, pool: ThreadPoolExecutor, times, errors, ws, cookies, cookie
) -> None:
    """3 commands, each waited for, then the lesson's first exercise check."""
    loop = asyncio.get_running_loop()
    for k in range(3):
        started = time.monotonic()
        await ws.send(f"echo c{k}-$(( {n} * 7 ))-ok\r".encode())
        want = f"c{k}-{n * 7}-ok".encode()
        seen = b""
        while seen.count(want) < 1:
            frame = await ws.recv()
            if isinstance(frame, bytes):
                seen += frame
        times["command"].append(time.monotonic() - started)

    if "csrftoken" in cookies:
        started = time.monotonic()
        check = f"{server.url}/ejercicios/{LESSON_SLUG}/{EXERCISE}/comprobar/"
        headers = {"Cookie": cookie, "X-CSRFToken": cookies["csrftoken"], "HX-Request": "true"}
        status, _, _ = await loop.run_in_executor(
            pool, http, check, {"respuesta": "no-es-el-kernel"}, headers
        )
        assert status == 200, status
        times["check"].append(time.monotonic() - started)
    else:
        errors["check: no csrftoken cookie from the lesson page"] += 1


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def one_round(
    server: LiveServer,
    n: int,
    student_timeout: float,
    stay: bool = False,
    on_last_ready: Callable[[], object] | None = None,
    arrive_only: bool = False,
) -> dict:
    # A server that has just started is still warming its pages (lessons/warm_up.py): that
    # work must not fall in the raw reference's window and slow it down.
    await asyncio.to_thread(settle, server.process.pid)
    # The raw engine first, on the same machine in the same minute: N hardened starts at once;
    # then N starts that each also open a bare shell on a TTY (what any terminal needs).
    shell_rate, shell_wall = await asyncio.to_thread(raw_start_rate, n, with_shell=True)
    raw_cpu_before = cpu_snapshot(server.process.pid)
    raw_cpu_after: dict = {}
    raw_rate, raw_wall = await asyncio.to_thread(
        raw_start_rate, n, lambda: raw_cpu_after.update(cpu_snapshot(server.process.pid))
    )
    raw_cpu = cpu_spent(raw_cpu_before, raw_cpu_after)
    times: dict[str, list[float]] = {"page": [], "terminal_ready": [], "command": [], "check": []}
    errors: Counter[str] = Counter()
    # The CPU until the last terminal is ready: the window the raw reference's CPU covers.
    window_cpu: dict = {}

    def last_ready() -> None:
        window_cpu.update(cpu_snapshot(server.process.pid))
        if on_last_ready is not None:
            on_last_ready()

    arrivals = Arrivals(n, stay or arrive_only, last_ready)
    with ThreadPoolExecutor(max_workers=min(n, 64)) as pool, Sampler(server.process.pid) as s:
        started = time.monotonic()
        cpu_before = cpu_snapshot(server.process.pid)
        results = await asyncio.gather(
            *(
                student(i, server, pool, times, errors, arrivals, arrive_only, student_timeout)
                for i in range(n)
            ),
            return_exceptions=True,
        )
        wall = time.monotonic() - started
        cpu_after = cpu_snapshot(server.process.pid)
    cpu = cpu_spent(cpu_before, cpu_after)
    window = cpu_spent(cpu_before, window_cpu) if window_cpu else {}
    for result in results:
        if isinstance(result, BaseException):
            errors[f"gave up after {student_timeout:.0f} s ({type(result).__name__})"] += 1
    ok = sum(1 for r in results if r is True)
    return {
        "n": n,
        "ok": ok,
        "wall": wall,
        "times": times,
        "errors": errors,
        "rss": s.peak_rss,
        "shim": s.peak_shim,
        "cpu": cpu,
        "window_cpu": window,
        "raw_rate": raw_rate,
        "raw_wall": raw_wall,
        "raw_cpu": raw_cpu,
        "shell_rate": shell_rate,
        "shell_wall": shell_wall,
        "waited_for": "--arrive-only" if arrive_only else "--stay" if stay else "",
        "failed_arrivals": arrivals.failed,
        "left_early": arrivals.releases_before_last_arrival(),
    }


def report(r: dict) -> None:
    print(
        f"\n== N = {r['n']} students at once: {r['ok']}/{r['n']} completed in {r['wall']:.1f} s"
        f" -> {r['ok'] / r['wall']:.2f} students/s"
    )
    print(
        f"   raw engine, same run: {r['n']} hardened create+start at once in {r['raw_wall']:.1f} s"
        f" -> {r['raw_rate']:.2f}/s; Muelle / raw = {r['ok'] / r['wall'] / r['raw_rate']:.2f}"
        f"   (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})"
    )
    ready = r["times"]["terminal_ready"]
    if ready:
        # Students/s counts the whole scenario (page, terminal, 3 commands, check); this one only
        # the arrival the raw reference measures: every terminal ready.
        arrivals = len(ready) / max(ready)
        print(
            f"   arrivals to a ready terminal: {arrivals:.2f}/s; "
            f"Muelle / raw = {arrivals / r['raw_rate']:.2f}"
        )
        print(
            f"   raw engine with a shell, same run: {r['n']} create+start+exec of a bare shell to"
            f" its prompt at once in {r['shell_wall']:.1f} s -> {r['shell_rate']:.2f}/s"
            f" ({r['shell_rate'] / r['raw_rate']:.2f} of create+start);"
            f" arrivals / that = {arrivals / r['shell_rate']:.2f}"
        )
        # Each student who left released a sandbox (container removal, gateway clean-up) while
        # others were still arriving: work the raw reference does after its window.
        print(
            f"   students who left before the last terminal was ready: {r['left_early']}"
            + (f" ({r['waited_for']}: they waited for everyone)" if r["waited_for"] else "")
        )
    for name, values in r["times"].items():
        if values:
            print(
                f"   {name:15s} n={len(values):4d}  p50={statistics.median(values) * 1000:7.0f} ms"
                f"  p95={pct(values, 0.95) * 1000:7.0f} ms  max={max(values) * 1000:7.0f} ms"
            )
    print(
        f"   server RSS peak {r['rss'] / 1024:.0f} MiB; containerd-shim PSS peak "
        f"{r['shim'] / 1024:.0f} MiB"
    )
    cpu = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in r["cpu"].items())
    print(
        f"   CPU time during the round ({os.cpu_count()} cores x {r['wall']:.1f} s = "
        f"{os.cpu_count() * r['wall']:.1f} s available): {cpu}"
    )
    # Where the time goes, beside the raw engine's: CPU per arrival and per process (the raw
    # containers' removal comes after its snapshot, as Muelle's comes after the round's).
    per = ", ".join(
        f"{name} {r['cpu'][name] / r['n'] * 1000:.0f} / {r['raw_cpu'][name] / r['n'] * 1000:.0f} ms"
        for name in r["cpu"]
    )
    print(f"   CPU per arrival, Muelle / raw engine: {per}")
    if r["window_cpu"]:
        # Only what was spent until the last terminal was ready: the same window as the raw
        # reference's (the commands, checks and releases after it left out).
        per = ", ".join(
            f"{name} {r['window_cpu'][name] / r['n'] * 1000:.0f} / "
            f"{r['raw_cpu'][name] / r['n'] * 1000:.0f} ms"
            for name in r["window_cpu"]
        )
        # The window ends when the last student is ready or has given up: after a failure it
        # may hold the others' commands, checks and releases too.
        caveat = (
            f" (but {r['failed_arrivals']} never got a terminal: the window ran until they gave up)"
            if r["failed_arrivals"]
            else ""
        )
        print(f"   CPU per arrival until the last terminal was ready, Muelle / raw: {per}{caveat}")
    for kind, count in r["errors"].most_common():
        print(f"   error x{count}: {kind}")
    if not r["errors"]:
        print("   errors: none")


def fill_pool(server: LiveServer, size: int) -> None:
    """The first terminal starts the pool filler on the server's loop (there is no lifespan);
    one throwaway student does that, then wait (bounded) until the pool is full."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        times: dict[str, list[float]] = {k: [] for k in ("page", "terminal_ready", "command")}
        times["check"] = []
        asyncio.run(student(9999, server, pool, times, Counter()))
    started = time.monotonic()
    while len(instance_containers(server.instance)) < size and time.monotonic() - started < 120:
        time.sleep(0.5)
    have = len(instance_containers(server.instance))
    print(f"\nwarm pool: {have}/{size} containers ready after {time.monotonic() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--warm-pool", type=int, default=0)
    parser.add_argument("--student-timeout", type=float, default=180)
    parser.add_argument(
        "--stay",
        action="store_true",
        help="each student keeps the terminal open until every one has arrived (a class "
        "staying): no sandbox is released while others still arrive",
    )
    parser.add_argument(
        "--arrive-only",
        action="store_true",
        help="each student only arrives (page, terminal ready) and stays until every one has: "
        "no commands, no check, no release in the window, as the raw reference does nothing "
        "after its start",
    )
    args = parser.parse_args()
    assert max(args.students) <= 200, "bounded: at most 200 students"

    with tempfile.TemporaryDirectory(prefix="muelle-load-") as tmp:
        instance = f"bench-load-{int(time.time())}"
        # This process too (the raw reference builds Muelle's hardened spec from the settings).
        configure_django(Path(tmp) / "db.sqlite3", instance)
        server = LiveServer(
            Path(tmp) / "db.sqlite3",
            instance,
            SANDBOX_MAX_LIVE=str(max(args.students) + 20),
            SANDBOX_WARM_POOL=str(args.warm_pool),
            SANDBOX_RECONNECT_GRACE="0",
            # Every simulated student comes from 127.0.0.1: lift the per-address limits.
            CLIENT_MAX_SANDBOXES=str(max(args.students) + 20),
            CLIENT_SESSION_BURST="1000",
        )
        server.migrate()
        server.start()
        rss0 = rss_kib(server.process.pid)
        print(
            f"server up on {server.url} (pid {server.process.pid}, RSS {rss0 / 1024:.0f} MiB, "
            f"instance {server.instance}, warm pool {args.warm_pool})"
        )
        try:
            for n in args.students:
                if args.warm_pool:
                    fill_pool(server, args.warm_pool)
                result = asyncio.run(
                    one_round(
                        server, n, args.student_timeout, args.stay, arrive_only=args.arrive_only
                    )
                )
                report(result)
                remove_containers(server.instance)
                deadline = time.monotonic() + 60
                while instance_containers(server.instance) and time.monotonic() < deadline:
                    time.sleep(0.5)
                    remove_containers(server.instance)
        finally:
            server.stop()
            remove_containers(server.instance)
            left = instance_containers(server.instance)
            print(f"\ncleanup: {len(left)} container(s) of {server.instance} left")


if __name__ == "__main__":
    main()
