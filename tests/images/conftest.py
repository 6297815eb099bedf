"""Contract tests of the course's real-world images, on the real engine through the Docker SDK.

Each test names the image by the reference it would have on Docker Hub, overridable by an
environment variable (MUELLE_CONTRACT_IMAGE_NGINX=nginx:1.27 …), and asserts only what the
official image documents: the same test runs unchanged against the official image where Docker
Hub answers. Here, a missing default reference is built as Muelle's stand-in first (setup, not
under test). Containers run with the hardening the gateway imposes on students' containers:
every capability dropped but the gateway's allowlist, no-new-privileges, a pids limit.

Servers are reached from another container on the same network, as students do: no port is
published on the host.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import docker
import docker.errors
import pytest

from sandbox.gateway.config import GatewayConfig

MiB = 1024**2
READY_TIMEOUT = 180.0  # a first start initialises a database; the machine is shared
CAPS = sorted(GatewayConfig().cap_allowlist)

DEFAULTS = {
    "debian": "debian:bookworm",
    "hello-world": "hello-world:latest",
    "busybox": "busybox:1.35",
    "alpine": "alpine:3",
    "nginx": "nginx:1.22",
    "httpd": "httpd:2.4",
    "redis": "redis:7.0",
    "mariadb": "mariadb:10.11",
    "postgres": "postgres:15",
    "python": "python:3.11-slim",
    "wordpress": "wordpress:6.1",
    "adminer": "adminer:4.8.1",
}


def reference(repository: str) -> str:
    variable = "MUELLE_CONTRACT_IMAGE_" + repository.upper().replace("-", "_")
    return os.environ.get(variable) or DEFAULTS[repository]


@pytest.fixture(scope="session")
def client() -> Iterator[docker.DockerClient]:
    api = docker.from_env(timeout=300)
    yield api
    api.close()


@pytest.fixture(scope="session")
def image_of(client: docker.DockerClient) -> Callable[[str], str]:
    """The reference to test for a repository, present on the engine (pulled or built)."""
    ready: dict[str, str] = {}

    def get(repository: str) -> str:
        if repository in ready:
            return ready[repository]
        ref = reference(repository)
        try:
            client.images.get(ref)
        except docker.errors.ImageNotFound:
            if ref == DEFAULTS[repository]:
                from sandbox.course_images.standin_build import build_stand_ins

                build_stand_ins(lambda _line: None, only=[repository])
            else:
                client.images.pull(ref)
        ready[repository] = ref
        return ref

    return get


class Lab:
    """One test's network, containers and volumes on the real engine; all removed at the end."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.prefix = f"contract-{uuid.uuid4().hex[:8]}"
        self.network = client.networks.create(self.prefix, labels={"muelle.test": "contract"})
        self.containers: list[Any] = []
        self.volumes: list[Any] = []

    def name(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    def volume(self, what: str) -> str:
        volume = self.client.volumes.create(self.name(what), labels={"muelle.test": "contract"})
        self.volumes.append(volume)
        return volume.name

    def _hardening(self, memory: int) -> dict[str, Any]:
        return {
            "cap_drop": ["ALL"],
            "cap_add": CAPS,
            "security_opt": ["no-new-privileges"],
            "mem_limit": memory,
            "memswap_limit": memory,
            "pids_limit": 64,
            "network": self.network.name,
        }

    def start(
        self,
        image: str,
        alias: str,
        *,
        environment: dict[str, str] | None = None,
        volumes: dict[str, str] | None = None,
        command: list[str] | None = None,
        memory: int = 256 * MiB,
    ) -> Any:
        """A server container; reachable from the others as `alias`."""
        container = self.client.containers.create(
            image,
            command=command,
            name=self.name(alias),
            environment=environment or {},
            volumes={v: {"bind": path, "mode": "rw"} for v, path in (volumes or {}).items()},
            labels={"muelle.test": "contract"},
            **self._hardening(memory),
        )
        self.containers.append(container)
        self.network.disconnect(container)
        self.network.connect(container, aliases=[alias])
        container.start()
        return container

    def run(
        self,
        image: str,
        command: list[str],
        *,
        environment: dict[str, str] | None = None,
        volumes: dict[str, str] | None = None,
        memory: int = 128 * MiB,
    ) -> tuple[int, str]:
        """Runs a command to its end in a new container on the network: (exit code, output)."""
        container = self.client.containers.create(
            image,
            command=command,
            environment=environment or {},
            volumes={v: {"bind": path, "mode": "rw"} for v, path in (volumes or {}).items()},
            labels={"muelle.test": "contract"},
            **self._hardening(memory),
        )
        try:
            container.start()
            code = container.wait(timeout=300)["StatusCode"]
            return code, container.logs().decode(errors="replace")
        finally:
            container.remove(force=True, v=True)

    def until(self, probe: Callable[[], tuple[int, str]], what: str) -> str:
        """Repeats `probe` until it exits 0; its output. Fails with the last output otherwise."""
        deadline = time.monotonic() + READY_TIMEOUT
        code, out = probe()
        while code != 0:
            assert time.monotonic() < deadline, f"{what} never succeeded; last output:\n{out}"
            time.sleep(1)
            code, out = probe()
        return out

    def close(self) -> None:
        # v=True everywhere: the anonymous volume the engine makes for an image's VOLUME (a
        # database's data folder, even in a client container) goes with its container; named
        # volumes never do. Without it, each run left a dozen volumes on the engine.
        for container in self.containers:
            try:
                container.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
        for volume in self.volumes:
            try:
                volume.remove(force=True)
            except docker.errors.NotFound:
                pass
        self.network.remove()


@pytest.fixture
def lab(client: docker.DockerClient) -> Iterator[Lab]:
    made = Lab(client)
    yield made
    made.close()


@pytest.fixture
def fetch(lab: Lab, image_of: Callable[[str], str]) -> Callable[[str], str]:
    """GET a URL from another container on the lab's network (BusyBox's wget), as a student's
    would, repeated until the server answers; returns the page."""

    def get(url: str) -> str:
        return lab.until(lambda: lab.run(image_of("busybox"), ["wget", "-qO-", url]), f"GET {url}")

    return get


@pytest.fixture
def volume_with(lab: Lab, image_of: Callable[[str], str]) -> Callable[[str, str], str]:
    """A new volume holding one file (`name`, `text`), written by a container as a student
    would; returns the volume's name."""

    def make(name: str, text: str) -> str:
        volume = lab.volume("site")
        code, out = lab.run(
            image_of("busybox"),
            ["sh", "-c", 'printf "%s\\n" "$1" > "/v/$2"', "sh", text, name],
            volumes={volume: "/v"},
        )
        assert code == 0, out
        return volume

    return make


def logs(container: Any) -> str:
    return container.logs().decode(errors="replace")


def process_uid(container: Any) -> int:
    """The uid the container's main process runs as, from /proc (no ps needed in the image)."""
    code, out = container.exec_run(["cat", "/proc/1/status"])
    assert code == 0, out
    line = next(x for x in out.decode().splitlines() if x.startswith("Uid:"))
    return int(line.split()[1])
