"""Push and pull of a 50 MB image to the course registry: through a student's gateway vs. the
engine straight to the registry, with the real Docker CLI.

    .venv/bin/python bench/registry.py [--runs 7] [--size-mb 50]

A registry of its own (Debian's docker-registry) on a free loopback port. Before every timed
push the registry is restarted with empty storage, so each push uploads the whole layer; before
every timed pull the image is removed from the engine, so each pull downloads and extracts it.
Direct and gateway runs alternate; medians and p95 are printed with the ratio. Target: 1.2x.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
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

from sandbox import course_registry  # noqa: E402
from sandbox.gateway import lifecycle  # noqa: E402
from sandbox.gateway.config import GatewayConfig  # noqa: E402
from sandbox.gateway.names import Namespace  # noqa: E402

DOCKER = "/usr/bin/docker"
BASE = "muelle/busybox"
NAME = "registro.muelle"


def docker(env: dict[str, str], *args: str) -> str:
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
        f"{name:<22} direct median {d * 1000:7.0f} ms p95 {p95(direct) * 1000:7.0f} ms | "
        f"gateway median {g * 1000:7.0f} ms p95 {p95(gateway) * 1000:7.0f} ms | "
        f"ratio {g / d:.2f}x"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size-mb", type=int, default=50)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="muelle-bench-registry-"))
    port = free_port()
    registry_dir = work / "registry"
    process = course_registry.start(registry_dir, port)
    password = course_registry.ensure_password(registry_dir)
    address = f"127.0.0.1:{port}"

    def fresh_registry() -> None:
        nonlocal process
        course_registry.stop(process)
        shutil.rmtree(registry_dir / "storage")
        process = course_registry.start(registry_dir, port)

    folder = Path(f"/tmp/muelle-gw-bench-{os.getpid()}")  # noqa: S108 (short: socket paths)
    folder.mkdir()
    instance = f"bench-{os.getpid()}"
    config = GatewayConfig(
        socket_dir=folder,
        instance=instance,
        registry_address=address,
        registry_username=course_registry.USERNAME,
        registry_password=password,
        registry_max_size=4 * args.size_mb * 1024**2,
    )
    lifecycle.configure(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):  # noqa: ANN001, ANN202
        return asyncio.run_coroutine_threadsafe(coro, loop).result(600)

    owner = f"bench-{os.getpid()}"
    ns = Namespace(owner, instance)
    socket_folder = run(lifecycle.open_gateway(owner))
    home = work / "home"
    home.mkdir()
    base = {"PATH": "/usr/bin:/bin", "HOME": str(home), "DOCKER_BUILDKIT": "0"}
    direct_env = {**base, "DOCKER_HOST": "unix:///var/run/docker.sock"}
    gateway_env = {**base, "DOCKER_HOST": f"unix://{socket_folder}/{lifecycle.SOCKET_NAME}"}
    direct_ref = f"{address}/direct/big:1"
    student_ref = f"{NAME}/big:1"
    engine_student_ref = f"{ns.image_prefix}{NAME}/big:1"
    image_id = ""
    try:
        # One image, built straight on the engine with the student's labels: the same image id
        # is the student's `registro.muelle/big:1` and the direct side's `<address>/direct/big:1`.
        context = work / "context"
        context.mkdir()
        (context / "blob").write_bytes(os.urandom(args.size_mb * 1024**2))  # incompressible
        (context / "Dockerfile").write_text(f"FROM {BASE}\nCOPY blob /blob\n")
        labels = [f"--label={k}={v}" for k, v in ns.labels.items()]
        docker(direct_env, "build", "-q", *labels, "-t", engine_student_ref, str(context))
        image_id = docker(direct_env, "image", "inspect", "-f", "{{.Id}}", engine_student_ref)
        image_id = image_id.strip()
        docker(direct_env, "tag", image_id, direct_ref)
        # The direct side logs in with the same credentials the gateway hands the engine.
        subprocess.run(
            [DOCKER, "login", address, "-u", course_registry.USERNAME, "--password-stdin"],
            input=password,
            env=direct_env,
            capture_output=True,
            check=True,
            text=True,
        )
        print(
            f"{args.runs} runs each, alternating direct / gateway; {args.size_mb} MB image "
            f"(one random layer over {BASE}); docker CLI {DOCKER}; registry {address}"
        )
        direct, gateway = [], []
        for _ in range(args.runs):
            fresh_registry()
            direct.append(timed(direct_env, "push", direct_ref))
            fresh_registry()
            gateway.append(timed(gateway_env, "push", student_ref))
        report("push (empty registry)", direct, gateway)

        docker(direct_env, "push", direct_ref)  # both repositories present for the pulls
        direct, gateway = [], []
        for _ in range(args.runs):
            docker(direct_env, "rmi", "-f", image_id)
            direct.append(timed(direct_env, "pull", direct_ref))
            docker(direct_env, "rmi", "-f", image_id)
            gateway.append(timed(gateway_env, "pull", student_ref))
        report("pull (image removed)", direct, gateway)
    finally:
        if image_id:
            subprocess.run([DOCKER, "rmi", "-f", image_id], env=direct_env, capture_output=True)
        run(lifecycle.close_gateway(owner, cleanup=True))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        course_registry.stop(process)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
