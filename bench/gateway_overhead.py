"""How much the Docker gateway costs against the engine directly, with the real Docker CLI.

    .venv/bin/python bench/gateway_overhead.py [--runs 21]

Runs each command alternately against the engine's socket and through a gateway (served on its
own event loop in a thread, as on the ASGI server's loop) and prints median / p95 wall times
and the ratio of medians. Target: run --rm at most 1.2x.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorial.settings")
os.environ.setdefault("MUELLE_INSECURE_DEV_KEY", "1")

import django  # noqa: E402

django.setup()

from sandbox.gateway import lifecycle  # noqa: E402
from sandbox.gateway.config import GatewayConfig  # noqa: E402

DOCKER = "/usr/bin/docker"
IMAGE = "muelle/busybox"
LOG_LINES = 12_000  # fits the 1 MiB json-file cap every student container gets


def timed(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    result = subprocess.run([DOCKER, *args], env=env, capture_output=True, timeout=120)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)} failed: {result.stderr.decode()}")
    return elapsed


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(name: str, direct: list[float], gateway: list[float]) -> None:
    d, g = statistics.median(direct), statistics.median(gateway)
    print(
        f"{name:<28} direct median {d * 1000:7.1f} ms p95 {p95(direct) * 1000:7.1f} ms | "
        f"gateway median {g * 1000:7.1f} ms p95 {p95(gateway) * 1000:7.1f} ms | "
        f"ratio {g / d:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()

    folder = Path(f"/tmp/muelle-gw-bench-{os.getpid()}")  # noqa: S108 (short: socket paths)
    folder.mkdir()
    lifecycle.configure(
        GatewayConfig(socket_dir=folder, instance=f"bench-{os.getpid()}", max_containers=50)
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):  # noqa: ANN001, ANN202
        return asyncio.run_coroutine_threadsafe(coro, loop).result(300)

    owner = f"bench-{os.getpid()}"
    socket_folder = run(lifecycle.open_gateway(owner))
    home = tempfile.mkdtemp(prefix="muelle-bench-home-")
    base = {"PATH": "/usr/bin:/bin", "HOME": home, "DOCKER_BUILDKIT": "0"}
    direct_env = {**base, "DOCKER_HOST": "unix:///var/run/docker.sock"}
    gateway_env = {**base, "DOCKER_HOST": f"unix://{socket_folder}/{lifecycle.SOCKET_NAME}"}
    # The direct side gets the same limits the gateway imposes, so only the gateway differs.
    limits = [
        "--memory",
        "128m",
        "--memory-swap",
        "128m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "64",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--network",
        "none",
        "--log-opt",
        "max-size=1m",
        "--log-opt",
        "max-file=1",
    ]
    try:
        for env in (direct_env, gateway_env):  # warm both paths
            timed(env, "ps", "-a")
            timed(env, "run", "--rm", *limits, IMAGE, "true")
        print(f"{args.runs} runs each, alternating direct / gateway; docker CLI {DOCKER}")
        direct, gateway = [], []
        for _ in range(args.runs):
            direct.append(timed(direct_env, "ps", "-a"))
            gateway.append(timed(gateway_env, "ps", "-a"))
        report("docker ps -a", direct, gateway)

        direct, gateway = [], []
        for _ in range(args.runs):
            direct.append(timed(direct_env, "run", "--rm", *limits, IMAGE, "true"))
            gateway.append(timed(gateway_env, "run", "--rm", *limits, IMAGE, "true"))
        report("docker run --rm IMAGE true", direct, gateway)

        names = {}
        for label, env in (("direct", direct_env), ("gateway", gateway_env)):
            name = f"bench-logs-{label}-{os.getpid()}"
            subprocess.run(
                [DOCKER, "run", "--name", name, *limits, IMAGE, "seq", "1", str(LOG_LINES)],
                env=env,
                capture_output=True,
                check=True,
            )
            names[label] = name
        direct, gateway = [], []
        for _ in range(args.runs):
            direct.append(timed(direct_env, "logs", "-f", names["direct"]))
            gateway.append(timed(gateway_env, "logs", "-f", names["gateway"]))
        report(f"docker logs -f ({LOG_LINES} lines)", direct, gateway)
        subprocess.run([DOCKER, "rm", "-f", names["direct"]], env=direct_env, capture_output=True)
    finally:
        run(lifecycle.close_gateway(owner, cleanup=True))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
