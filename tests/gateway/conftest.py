"""Gateways on the real engine, driven by the real Docker CLI.

The gateways run on their own event loop in a thread, as they run on the ASGI server's loop in
production; tests stay synchronous and call the `docker` binary with DOCKER_HOST pointing at a
student's socket. Every student fixture checks on teardown that cleanup left nothing behind.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox.gateway import lifecycle
from sandbox.gateway.cleanup import cleanup_student
from sandbox.gateway.config import GatewayConfig
from sandbox.gateway.upstream import Upstream

DOCKER = "/usr/bin/docker"  # Debian's 20.10 client, as in the sandbox image
DOCKER_NEW = "/usr/local/bin/docker"  # a current client, negotiating down to API 1.41
IMAGE = "muelle/busybox"
MiB = 1024**2


class GatewayLoop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def small_gateway_config(name: str) -> GatewayConfig:
    """The small limits the gateway tests use, in a folder and instance of `name`'s own."""
    # Unix socket paths are limited to 108 bytes: keep the folder short.
    folder = Path(f"/tmp/muelle-{name}-{os.getpid()}")  # noqa: S108
    folder.mkdir(exist_ok=True)
    return GatewayConfig(
        socket_dir=folder,
        instance=f"pytest-{name}-{os.getpid()}",
        container_memory=64 * MiB,
        container_cpus=0.5,
        container_pids=64,
        max_containers=4,
        max_images=3,
        max_volumes=3,
        max_networks=2,
        max_total_memory=160 * MiB,
        pull_allowlist=frozenset({"hello-world"}),
        build_memory=128 * MiB,
        build_pids=64,
        build_context_max=4 * MiB,
    )


@pytest.fixture(scope="session")
def gateway_config(tmp_path_factory: pytest.TempPathFactory) -> GatewayConfig:
    return small_gateway_config("gw")


@pytest.fixture(scope="session")
def course_images() -> None:
    """The BusyBox-based course images (fast to build; muelle/debian is not needed here)."""
    from sandbox.course_images import build_course_images

    build_course_images(lambda _msg: None, only=["muelle/hola", "muelle/busybox", "muelle/web"])


@pytest.fixture(scope="session")
def gateway_loop(gateway_config: GatewayConfig, course_images: None) -> Iterator[GatewayLoop]:
    loop = GatewayLoop()
    yield loop
    lifecycle.configure(gateway_config)
    loop.run(lifecycle.close_all(cleanup=True))
    loop.stop()
    lifecycle.configure(None)
    for child in gateway_config.socket_dir.iterdir():
        left = list(child.iterdir())
        assert not left, f"left in a student's gateway folder: {left}"
        child.rmdir()
    gateway_config.socket_dir.rmdir()


@pytest.fixture(autouse=True)
def _gateway_config_for_this_test(gateway_config: GatewayConfig) -> Iterator[None]:
    # Only while a gateway test runs: the sandboxes of other test folders (same session) read
    # the settings, as in production.
    lifecycle.configure(gateway_config)
    yield
    lifecycle.configure(None)


@dataclass
class Student:
    owner: str
    folder: Path
    loop: GatewayLoop
    config: GatewayConfig
    home: Path

    @property
    def socket(self) -> Path:
        return self.folder / lifecycle.SOCKET_NAME

    def env(self) -> dict[str, str]:
        return {
            "DOCKER_HOST": f"unix://{self.socket}",
            "HOME": str(self.home),
            "PATH": "/usr/bin:/bin",
            "DOCKER_BUILDKIT": "0",
        }

    def docker(
        self,
        *args: str,
        input: str | None = None,
        binary: str = DOCKER,
        timeout: float = 90,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env(), **(env or {})},
            cwd=cwd,
        )

    def ok(self, *args: str, **kwargs: Any) -> str:
        result = self.docker(*args, **kwargs)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def refused(self, *args: str, **kwargs: Any) -> str:
        """Runs a command that must fail; returns what the CLI printed on stderr."""
        result = self.docker(*args, **kwargs)
        assert result.returncode != 0, (args, result.stdout)
        return result.stderr

    def raw(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One raw HTTP request to the gateway; (status, parsed JSON or text)."""
        status, data = unix_request(str(self.socket), method, path, body, headers)
        return status, json_or_text(data)

    def raw_started(self, cmd: list[str], name: str = "") -> str:
        """A container of IMAGE running `cmd`, created and started with raw API requests (no
        CLI in between); its id."""
        query = f"?name={name}" if name else ""
        body = json.dumps({"Image": IMAGE, "Cmd": cmd}).encode()
        status, answer = self.raw("POST", f"/v1.41/containers/create{query}", body=body)
        assert status == 201, answer
        assert self.raw("POST", f"/v1.41/containers/{answer['Id']}/start")[0] == 204
        return str(answer["Id"])

    def engine_objects(self) -> dict[str, list[Any]]:
        """What the real engine holds for this student (by label and by name prefix)."""
        return self.loop.run(_engine_objects(self.config, self.owner))


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("docker", timeout=60)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(60)
        sock.connect(self.unix_path)
        self.sock = sock


def unix_request(
    socket_path: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One HTTP request on a unix socket (a gateway's or the engine's); (status, body)."""
    conn = UnixHTTPConnection(socket_path)
    try:
        conn.request(
            method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})}
        )
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode(errors="replace")


async def _engine_objects(config: GatewayConfig, owner: str) -> dict[str, list[Any]]:
    from sandbox.gateway.student import Student as GatewayStudent

    engine = Upstream(config.engine_socket)
    student = GatewayStudent(owner, config, engine)
    images = await engine.json("GET", "/images/json", query={"all": "1"})
    return {
        "containers": await student.containers(),
        "volumes": await student.volumes(),
        "networks": await student.networks(),
        "images": [
            i
            for i in images
            if student.ns.owns_labels(i.get("Labels"))
            or any(student.ns.owns_image_tag(t) for t in i.get("RepoTags") or [])
        ],
    }


def _no_objects(objects: dict[str, list[Any]]) -> bool:
    return not any(objects.values())


@pytest.fixture
def make_student(
    gateway_loop: GatewayLoop, gateway_config: GatewayConfig, tmp_path: Path
) -> Iterator[Any]:
    made: list[Student] = []

    def make() -> Student:
        owner = uuid.uuid4().hex
        folder = gateway_loop.run(lifecycle.open_gateway(owner))
        home = tmp_path / f"home-{owner[:8]}"
        home.mkdir()
        student = Student(owner, folder, gateway_loop, gateway_config, home)
        made.append(student)
        return student

    yield make
    for student in made:
        gateway_loop.run(lifecycle.close_gateway(student.owner, cleanup=True))
        leftovers = student.engine_objects()
        if not _no_objects(leftovers):
            gateway_loop.run(cleanup_student(student.owner, gateway_config))
        assert _no_objects(leftovers), f"cleanup left objects behind: {leftovers}"


@pytest.fixture
def student(make_student: Any) -> Student:
    return make_student()


@pytest.fixture
def other_student(make_student: Any) -> Student:
    return make_student()
