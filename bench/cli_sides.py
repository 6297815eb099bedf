"""What the benches that time the real Docker CLI twice share (bench/gateway_overhead.py,
bench/registry.py): one student's gateway served on its own event loop in a thread (as on the
ASGI server's loop), the CLI's environment straight to the engine and through that gateway, and
how a direct / gateway pair of figures is timed and printed. Importing it sets Django up."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorial.settings")
os.environ.setdefault("MUELLE_INSECURE_DEV_KEY", "1")

import django  # noqa: E402

django.setup()

from sandbox.gateway import lifecycle  # noqa: E402
from sandbox.gateway.config import GatewayConfig  # noqa: E402

DOCKER = "/usr/bin/docker"


def socket_folder() -> Path:
    """A new folder for the gateway's socket; short, as unix socket paths are limited."""
    folder = Path(f"/tmp/muelle-gw-bench-{os.getpid()}")  # noqa: S108
    folder.mkdir()
    return folder


@dataclass(frozen=True)
class Sides:
    owner: str  # the student whose gateway it is
    direct: dict[str, str]  # the CLI's environment straight to the engine
    gateway: dict[str, str]  # the same, through the student's gateway


@contextlib.contextmanager
def cli_sides(config: GatewayConfig) -> Iterator[Sides]:
    """A gateway with `config` for one student, served until the block ends; then the
    student's objects are removed and config.socket_dir deleted. Both sides share one HOME of
    their own (the CLI keeps its registry logins there)."""
    home = tempfile.mkdtemp(prefix="muelle-bench-home-")
    lifecycle.configure(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(600)

    owner = f"bench-{os.getpid()}"
    folder = run(lifecycle.open_gateway(owner))
    base = {"PATH": "/usr/bin:/bin", "HOME": home, "DOCKER_BUILDKIT": "0"}
    try:
        yield Sides(
            owner,
            {**base, "DOCKER_HOST": "unix:///var/run/docker.sock"},
            {**base, "DOCKER_HOST": f"unix://{folder}/{lifecycle.SOCKET_NAME}"},
        )
    finally:
        run(lifecycle.close_gateway(owner, cleanup=True))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        shutil.rmtree(config.socket_dir, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def docker(env: dict[str, str], *args: str) -> str:
    """The CLI's output; a failure ends the bench with what the CLI said."""
    result = subprocess.run([DOCKER, *args], env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def timed(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    docker(env, *args)
    return time.perf_counter() - started


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(name: str, direct: list[float], gateway: list[float]) -> None:
    d, g = statistics.median(direct), statistics.median(gateway)
    print(
        f"{name:<28} direct median {d * 1000:7.1f} ms p95 {p95(direct) * 1000:7.1f} ms | "
        f"gateway median {g * 1000:7.1f} ms p95 {p95(gateway) * 1000:7.1f} ms | "
        f"ratio {g / d:.2f}x",
        flush=True,
    )
