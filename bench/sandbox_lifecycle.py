"""Sandbox lifecycle figures against the real engine: prints median and p95.

    .venv/bin/python bench/sandbox_lifecycle.py [--runs 20] [--idle 20] [--burst 30]

- cold acquire: engine.acquire with an empty warm pool (create + start + record)
- warm acquire: engine.acquire served from the warm pool (claim + rename)
- shell first byte: engine.open_tty + the first byte of the login shell
- run echo: engine.run(["echo", ...]) round trip
- warm hand-out -> first shell byte: engine.acquire from a full pool + open_tty + first byte
- burst: --burst students at once take a warm sandbox and open their shell, with the pool
  filler refilling meanwhile (as on a server): first byte of each
- host memory per idle sandbox: PSS (/proc/PID/smaps_rollup) of each container's
  containerd-shim plus every process in the container, with N idle sandboxes, then with a live
  shell open in each. Target: <= 16 MiB per idle sandbox.

Every timing is printed beside the raw engine's, measured in the same run (bench/common.py:
a hardened create+start, an `exec` of echo, an exec of the login shell to its first byte, all
straight through the SDK), with the ratio Muelle / raw (issue 15).

Uses its own SANDBOX_INSTANCE and a throwaway SQLite file; removes every container it made.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorial.settings")
os.environ.setdefault("MUELLE_INSECURE_DEV_KEY", "1")
os.environ["SANDBOX_INSTANCE"] = f"bench-{os.getpid()}"
os.environ["SANDBOX_WARM_POOL"] = "0"  # filled by hand below, so nothing races the timings
os.environ["SANDBOX_MAX_LIVE"] = "500"
_db = Path(tempfile.gettempdir()) / f"muelle-bench-{os.getpid()}.sqlite3"
os.environ["SQLITE_PATH"] = str(_db)

import django  # noqa: E402

django.setup()

from common import (  # noqa: E402
    ratio_line,
    raw_create_start,
    raw_exec_echo,
    raw_remove,
    raw_shell_first_byte,
    raw_spec,
)
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from sandbox import engine, pool, reaper  # noqa: E402

MIB = 1024 * 1024


def summary(name: str, values: list[float], unit: str = "ms", scale: float = 1000.0) -> None:
    ordered = sorted(v * scale for v in values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    print(
        f"{name:<34} median {statistics.median(ordered):8.1f} {unit}   p95 {p95:8.1f} {unit}"
        f"   (n={len(ordered)})"
    )


def beside(name: str, muelle: list[float], raw: list[float]) -> None:
    """Medians of Muelle's and the raw engine's timings of the same run, and the ratio."""
    ratio_line(name, statistics.median(muelle) * 1000, statistics.median(raw) * 1000, "ms", 34)


def pss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def host_memory(container_ids: list[str]) -> float:
    """Total PSS in bytes of the shims and every process of the given containers."""
    pids: set[int] = set()
    for cid in container_ids:
        info = engine.call_sync(lambda api, c=cid: api.inspect_container(c))
        init_pid = info["State"]["Pid"]
        pids.add(parent_pid(init_pid))  # containerd-shim-runc-v2
        top = engine.call_sync(lambda api, c=cid: api.top(c, ps_args="-o pid"))
        pids.update(int(row[0]) for row in top["Processes"])
    return sum(pss_kib(pid) for pid in pids) * 1024.0


async def cold(runs: int) -> list[engine.Sandbox]:
    times, made = [], []
    for i in range(runs):
        started = time.perf_counter()
        made.append(await engine.acquire(f"bench-cold-{i}"))
        times.append(time.perf_counter() - started)
    summary("cold acquire (create+start+record)", times)
    raw_times, raw_ids = [], []
    for _ in range(runs):
        started = time.perf_counter()
        raw_ids.append(raw_create_start(raw_spec()))
        raw_times.append(time.perf_counter() - started)
    raw_remove(raw_ids)
    summary("  raw engine: hardened create+start", raw_times)
    beside("  cold acquire / raw create+start", times, raw_times)
    return made


async def warm(runs: int) -> list[engine.Sandbox]:
    settings.SANDBOX_WARM_POOL = runs
    await pool.fill_once()
    times, made = [], []
    for i in range(runs):
        started = time.perf_counter()
        sandbox = await engine.acquire(f"bench-warm-{i}")
        times.append(time.perf_counter() - started)
        made.append(sandbox)
    settings.SANDBOX_WARM_POOL = 0
    assert await pool.size() == 0
    summary("warm acquire (from the pool)", times)
    return made


async def first_byte(sandboxes: list[engine.Sandbox]) -> None:
    times = []
    for sandbox in sandboxes:
        started = time.perf_counter()
        tty = await engine.open_tty(sandbox)
        data = await tty.read()
        times.append(time.perf_counter() - started)
        assert data
        await tty.close()
    summary("open_tty -> first shell byte", times)
    raw = [await asyncio.to_thread(raw_shell_first_byte, s.container_id) for s in sandboxes]
    summary("  raw engine: exec bash -l, first byte", raw)
    beside("  open_tty / raw exec+shell", times, raw)


async def run_echo(sandboxes: list[engine.Sandbox]) -> None:
    times = []
    for sandbox in sandboxes:
        started = time.perf_counter()
        result = await engine.run(sandbox, ["echo", "hola"])
        times.append(time.perf_counter() - started)
        assert result.output == b"hola\n"
    summary("run(['echo', 'hola'])", times)
    raw = [await asyncio.to_thread(raw_exec_echo, s.container_id) for s in sandboxes]
    summary("  raw engine: exec echo", raw)
    beside("  run echo / raw exec echo", times, raw)


async def warm_first_byte(runs: int) -> list[engine.Sandbox]:
    """A student's terminal from a full pool: hand-out, shell, first byte (one at a time, the
    pool full again before each, as a quiet classroom sees it)."""
    settings.SANDBOX_WARM_POOL = 2
    times, made, raw = [], [], []
    for i in range(runs):
        await pool.fill_once()
        await asyncio.sleep(0.3)  # whatever a warm sandbox prepares in the background
        started = time.perf_counter()
        sandbox = await engine.acquire(f"bench-warm-tty-{i}")
        tty = await engine.open_tty(sandbox)
        data = await tty.read()
        times.append(time.perf_counter() - started)
        assert data
        await tty.close()
        made.append(sandbox)
        raw.append(await asyncio.to_thread(raw_shell_first_byte, sandbox.container_id))
    settings.SANDBOX_WARM_POOL = 0
    summary("warm hand-out -> first shell byte", times)
    summary("  raw engine: exec bash -l, first byte", raw)
    beside("  warm first byte / raw exec+shell", times, raw)
    return made


async def burst(count: int) -> None:
    """`count` students at once from a full pool of `count`, the filler running (it refills
    while they arrive): hand-out + shell + first byte of each. Raw reference: `count` login
    shells opened at once in running containers (the part of a hand-out the engine does)."""
    settings.SANDBOX_WARM_POOL = count
    await engine.stop_background_tasks()
    engine.ensure_background_tasks()  # the filler, as a server runs it
    deadline = time.monotonic() + 300
    while await pool.size() < count and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # let the last warm sandboxes finish their preparation

    async def one(i: int) -> tuple[float, engine.Sandbox]:
        started = time.perf_counter()
        sandbox = await engine.acquire(f"bench-burst-{i}")
        tty = await engine.open_tty(sandbox)
        data = await tty.read()
        assert data
        elapsed = time.perf_counter() - started
        await tty.close()
        return elapsed, sandbox

    results = await asyncio.gather(*(one(i) for i in range(count)))
    settings.SANDBOX_WARM_POOL = 0
    await engine.stop_background_tasks()
    times = [t for t, _ in results]
    summary(f"burst of {count}: hand-out -> first byte", times)
    ids = [s.container_id for _, s in results]
    raw_started = time.perf_counter()
    raw = await asyncio.gather(*(asyncio.to_thread(raw_shell_first_byte, c) for c in ids))
    raw_wall = time.perf_counter() - raw_started
    summary(f"  raw engine: {count} exec bash -l at once", list(raw))
    ordered, raw_ordered = sorted(times), sorted(raw)
    p95 = ordered[round(0.95 * (count - 1))]
    raw_p95 = raw_ordered[round(0.95 * (count - 1))]
    ratio_line(f"  burst p95 / raw p95 ({raw_wall:.1f} s)", p95 * 1000, raw_p95 * 1000, "ms", 34)
    for _, sandbox in results:
        await engine.release(sandbox)


async def memory(count: int) -> None:
    sandboxes = [await engine.acquire(f"bench-idle-{i}") for i in range(count)]
    ids = [s.container_id for s in sandboxes]
    await asyncio.sleep(2)  # let start-up settle
    idle = host_memory(ids) / count
    ttys = [await engine.open_tty(s) for s in sandboxes]
    for tty in ttys:
        await tty.read()
    await asyncio.sleep(1)
    with_shell = host_memory(ids) / count
    for tty in ttys:
        await tty.close()
    print(
        f"host memory per idle sandbox       {idle / MIB:8.2f} MiB (PSS, {count} sandboxes; "
        f"target <= 16 MiB)"
    )
    print(f"host memory per sandbox + shell    {with_shell / MIB:8.2f} MiB")
    for sandbox in sandboxes:
        await engine.release(sandbox)


async def main(runs: int, idle: int, burst_size: int) -> None:
    version = await engine.engine_status()
    if not version.available or not version.image_present:
        sys.exit(version.message)
    print(f"engine {version.version} (API {version.api_version}), image {version.image}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    try:
        made = await cold(runs)
        made += await warm(runs)
        await first_byte(made[:runs])
        await run_echo(made[:runs])
        for sandbox in made:
            await engine.release(sandbox)
        for sandbox in await warm_first_byte(runs):
            await engine.release(sandbox)
        if burst_size:
            await burst(burst_size)
        await memory(idle)
    finally:
        await engine.stop_background_tasks()
        await reaper.reap(everything=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--idle", type=int, default=20)
    parser.add_argument("--burst", type=int, default=30)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    try:
        asyncio.run(main(args.runs, args.idle, args.burst))
    finally:
        _db.unlink(missing_ok=True)
