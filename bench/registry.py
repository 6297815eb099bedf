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
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from cli_sides import (
    DOCKER,
    GatewayConfig,
    Sides,
    cli_sides,
    docker,
    report,
    socket_folder,
    timed,
)

from sandbox import course_registry
from sandbox.gateway.names import Namespace

BASE = "muelle/busybox"
NAME = "registro.muelle"


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

    instance = f"bench-{os.getpid()}"
    config = GatewayConfig(
        socket_dir=socket_folder(),
        instance=instance,
        registry_address=address,
        registry_username=course_registry.USERNAME,
        registry_password=password,
        registry_max_size=4 * args.size_mb * 1024**2,
    )
    try:
        with cli_sides(config) as student:
            measure(args.runs, args.size_mb, student, address, password, instance, fresh_registry)
    finally:
        course_registry.stop(process)
        shutil.rmtree(work, ignore_errors=True)


def measure(
    runs: int,
    size_mb: int,
    student: Sides,
    address: str,
    password: str,
    instance: str,
    fresh_registry: Callable[[], None],
) -> None:
    ns = Namespace(student.owner, instance)
    direct_env, gateway_env = student.direct, student.gateway
    direct_ref = f"{address}/direct/big:1"
    student_ref = f"{NAME}/big:1"
    engine_student_ref = f"{ns.image_prefix}{NAME}/big:1"
    image_id = ""
    context = Path(tempfile.mkdtemp(prefix="muelle-bench-registry-context-"))
    try:
        # One image, built straight on the engine with the student's labels: the same image id
        # is the student's `registro.muelle/big:1` and the direct side's `<address>/direct/big:1`.
        (context / "blob").write_bytes(os.urandom(size_mb * 1024**2))  # incompressible
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
            f"{runs} runs each, alternating direct / gateway; {size_mb} MB image "
            f"(one random layer over {BASE}); docker CLI {DOCKER}; registry {address}"
        )
        direct, gateway = [], []
        for _ in range(runs):
            fresh_registry()
            direct.append(timed(direct_env, "push", direct_ref))
            fresh_registry()
            gateway.append(timed(gateway_env, "push", student_ref))
        report("push (empty registry)", direct, gateway)

        docker(direct_env, "push", direct_ref)  # both repositories present for the pulls
        direct, gateway = [], []
        for _ in range(runs):
            docker(direct_env, "rmi", "-f", image_id)
            direct.append(timed(direct_env, "pull", direct_ref))
            docker(direct_env, "rmi", "-f", image_id)
            gateway.append(timed(gateway_env, "pull", student_ref))
        report("pull (image removed)", direct, gateway)
    finally:
        if image_id:
            subprocess.run([DOCKER, "rmi", "-f", image_id], env=direct_env, capture_output=True)
        shutil.rmtree(context, ignore_errors=True)


if __name__ == "__main__":
    main()
