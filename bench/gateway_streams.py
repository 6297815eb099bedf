"""What one student's streams through the gateway cost another student, with and without the
byte rate (DOCKER_GATEWAY_BYTES_PER_SECOND and, for archives, copy_archive.MEMBER_COST).

    .venv/bin/python bench/gateway_streams.py [--runs 40] [--loops 2] [--seconds 20]

Two students' gateways on one event loop in a thread, as on the ASGI server's loop. Ana keeps
`--loops` loops of one of these going while Beto times `docker version` through his own gateway:
- exec: `docker exec fuente cat /grande`, 32 MiB each time (a stream the web process copies);
- cp: `docker cp - fuente:/tmp` of a tar of 20,000 empty files (10 MiB; the gateway rewrites every
  member, about 50 us of the web process each).
Printed, in one run, for each: Beto's median and p95 alone (the raw reference, `--runs` runs),
beside Ana's loops with the rate lifted (as before), and beside the same loops at the default
rate (over `--seconds` each); and what Ana's loops got done.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from cli_sides import DOCKER, GatewayConfig, socket_folder
from common import percentile

from sandbox.gateway import lifecycle

IMAGE = "muelle/busybox"
STREAM = 32 * 1024 * 1024
MEMBERS = 20_000
UNLIMITED = 1 << 40


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--loops", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    default = GatewayConfig(socket_dir=socket_folder(), instance=f"bench-streams-{os.getpid()}")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(600)

    homes = [tempfile.mkdtemp(prefix="muelle-bench-home-") for _ in range(2)]
    owners = [f"bench-ana-{os.getpid()}", f"bench-beto-{os.getpid()}"]
    try:
        for scenario in (exec_loop, cp_loop):
            what = (scenario.__doc__ or "").partition(";")[0]
            print(f"Ana: {args.loops} loops of {what}; Beto: docker version")
            run_scenario(scenario, default, owners, homes, run, args)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        shutil.rmtree(default.socket_dir, ignore_errors=True)
        for home in homes:
            shutil.rmtree(home, ignore_errors=True)


def run_scenario(  # noqa: PLR0913
    scenario: Callable[[dict[str, str]], int],
    default: GatewayConfig,
    owners: list[str],
    homes: list[str],
    run: Callable[[Coroutine[Any, Any, Any]], Any],
    args: argparse.Namespace,
) -> None:
    for label, rate in (
        ("rate lifted (as before)", UNLIMITED),
        (f"default rate ({default.stream_bytes_per_second // 2**20} MiB/s)", None),
    ):
        config = (
            default if rate is None else dataclasses.replace(default, stream_bytes_per_second=rate)
        )
        lifecycle.configure(config)
        envs = []
        for owner, home in zip(owners, homes, strict=True):
            folder = run(lifecycle.open_gateway(owner))
            envs.append(
                {
                    "PATH": "/usr/bin:/bin",
                    "HOME": home,
                    "DOCKER_HOST": f"unix://{folder}/{lifecycle.SOCKET_NAME}",
                }
            )
        ana, beto = envs
        try:
            measure(label, scenario, ana, beto, args)
        finally:
            for owner in owners:
                run(lifecycle.close_gateway(owner, cleanup=True))


def measure(
    label: str,
    scenario: Callable[[dict[str, str]], int],
    ana: dict[str, str],
    beto: dict[str, str],
    args: argparse.Namespace,
) -> None:
    subprocess.run(
        [DOCKER, "run", "-d", "--name", "fuente", IMAGE, "sleep", "3600"],
        env=ana,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [DOCKER, "exec", "fuente", "sh", "-c", f"head -c {STREAM} /dev/zero > /grande"],
        env=ana,
        check=True,
    )
    alone = times(beto, args.runs)
    stop = threading.Event()
    done = [0]

    def repeat() -> None:
        while not stop.is_set():
            done[0] += scenario(ana)

    loops = [threading.Thread(target=repeat, daemon=True) for _ in range(args.loops)]
    started = time.perf_counter()
    for thread in loops:
        thread.start()
    time.sleep(1)
    loaded = times(beto, None, args.seconds)
    stop.set()
    for thread in loops:
        thread.join(300)
    elapsed = time.perf_counter() - started
    print(f"  {label}")
    print(
        f"    Beto alone (raw reference)   median {statistics.median(alone) * 1000:6.1f} ms"
        f"   p95 {percentile(alone, 0.95) * 1000:6.1f} ms"
    )
    print(
        f"    Beto beside Ana's loops      median {statistics.median(loaded) * 1000:6.1f} ms"
        f"   p95 {percentile(loaded, 0.95) * 1000:6.1f} ms"
        f"   ratio {statistics.median(loaded) / statistics.median(alone):4.2f}x"
        f"   (n={len(loaded)})"
    )
    unit = (scenario.__doc__ or "").rpartition("units: ")[2]
    print(f"    Ana's loops together: {done[0] / elapsed:6.2f} {unit}/s")


def exec_loop(ana: dict[str, str]) -> int:
    """`docker exec fuente cat /grande` (32 MiB); units: MiB"""
    out = subprocess.run([DOCKER, "exec", "fuente", "cat", "/grande"], env=ana, capture_output=True)
    return len(out.stdout) // 2**20


def cp_loop(ana: dict[str, str]) -> int:
    """`docker cp - fuente:/tmp` of 20,000 empty files; units: copies"""
    out = subprocess.run(
        [DOCKER, "cp", "-", "fuente:/tmp"], env=ana, input=_many_files(), capture_output=True
    )
    return int(out.returncode == 0)


_archive: list[bytes] = []


def _many_files() -> bytes:
    if not _archive:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for index in range(MEMBERS):
                tar.addfile(tarfile.TarInfo(f"d/f{index:05d}"))
        _archive.append(buffer.getvalue())
    return _archive[0]


def times(env: dict[str, str], runs: int | None, seconds: float = 0) -> list[float]:
    """`docker version` timed `runs` times, or for `seconds`."""
    out: list[float] = []
    deadline = time.perf_counter() + seconds
    while (len(out) < runs) if runs is not None else (time.perf_counter() < deadline):
        started = time.perf_counter()
        subprocess.run([DOCKER, "version"], env=env, check=True, capture_output=True)
        out.append(time.perf_counter() - started)
    return out


if __name__ == "__main__":
    sys.exit(main())
