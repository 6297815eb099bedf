"""What one student's streams through the gateway cost another student, with and without the
byte rate (DOCKER_GATEWAY_BYTES_PER_SECOND).

    .venv/bin/python bench/gateway_streams.py [--runs 40] [--loops 2]

Two students' gateways on one event loop in a thread, as on the ASGI server's loop. Ana runs
`--loops` endless loops of `docker exec fuente cat /grande` (32 MiB each time: a stream the web
process copies); Beto times `docker version` through his own gateway. Printed, in one run:
Beto's median and p95 alone (the raw reference), beside Ana's loops with the rate lifted, and
beside the same loops at the default rate; and how many MiB/s Ana's loops got each time.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine
from typing import Any

from cli_sides import DOCKER, GatewayConfig, socket_folder
from common import percentile

from sandbox.gateway import lifecycle

IMAGE = "muelle/busybox"
STREAM = 32 * 1024 * 1024
UNLIMITED = 1 << 40


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--loops", type=int, default=2)
    args = parser.parse_args()

    default = GatewayConfig(socket_dir=socket_folder(), instance=f"bench-streams-{os.getpid()}")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(600)

    homes = [tempfile.mkdtemp(prefix="muelle-bench-home-") for _ in range(2)]
    owners = [f"bench-ana-{os.getpid()}", f"bench-beto-{os.getpid()}"]
    print(f"docker version for Beto, n={args.runs}; Ana: {args.loops} loops of a 32 MiB exec")
    try:
        for label, rate in (
            ("rate lifted (as before)", UNLIMITED),
            (f"default rate ({default.stream_bytes_per_second // 2**20} MiB/s)", None),
        ):
            config = (
                default
                if rate is None
                else dataclasses.replace(default, stream_bytes_per_second=rate)
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
                measure(label, ana, beto, args)
            finally:
                for owner in owners:
                    run(lifecycle.close_gateway(owner, cleanup=True))
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        shutil.rmtree(default.socket_dir, ignore_errors=True)
        for home in homes:
            shutil.rmtree(home, ignore_errors=True)


def measure(
    label: str, ana: dict[str, str], beto: dict[str, str], args: argparse.Namespace
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
    copied = [0]

    def stream() -> None:
        while not stop.is_set():
            done = subprocess.run(
                [DOCKER, "exec", "fuente", "cat", "/grande"], env=ana, capture_output=True
            )
            copied[0] += len(done.stdout)

    loops = [threading.Thread(target=stream, daemon=True) for _ in range(args.loops)]
    started = time.perf_counter()
    for thread in loops:
        thread.start()
    time.sleep(1)
    loaded = times(beto, args.runs)
    stop.set()
    for thread in loops:
        thread.join(120)
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
    )
    print(f"    Ana's loops carried {copied[0] / elapsed / 2**20:6.1f} MiB/s together")


def times(env: dict[str, str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([DOCKER, "version"], env=env, check=True, capture_output=True)
        out.append(time.perf_counter() - started)
    return out


if __name__ == "__main__":
    sys.exit(main())
