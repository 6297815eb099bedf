"""The course registry with sandboxes on Swarm nodes (SANDBOX_PLACEMENT=swarm, docs/despliegue.md):
a student's `docker push registro.muelle/...` is made by their node's engine, not Muelle's.
On the real 3-node bed: the default registry on 127.0.0.1 of Muelle's host is not reached from
a node (the node's 127.0.0.1 is its own), and a registry on an address the nodes reach, over
TLS signed by a CA the nodes trust for that host:port only (certs.d), works through the gateway
unchanged: push, rmi, pull, and another student cannot pull it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.swarm_bed import SwarmBed
from sandbox import course_registry, engine
from sandbox.docker_api.client import engine_of
from sandbox.gateway import lifecycle
from sandbox.gateway.names import student_key
from sandbox.gateway.registry_client import RegistryClient

from .swarm_muelle import bed_with_images, muelle_on_bed

pytestmark = [pytest.mark.docker]

IMAGES = ["muelle/sandbox:latest", "muelle/hola:latest"]
INSTANCE = f"pytest-swreg-{os.getpid()}"
GATEWAY_DIR = Path(f"/tmp/muelle-swr-{os.getpid()}")  # noqa: S108 (short: socket paths)
CERTS_D = Path("/etc/docker/certs.d")
ROUND_TRIP = (
    "docker tag muelle/hola registro.muelle/hola:1 && docker push registro.muelle/hola:1 && "
    "docker rmi registro.muelle/hola:1 && docker pull registro.muelle/hola:1 && "
    "docker run --rm registro.muelle/hola:1"
)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def bed() -> Iterator[SwarmBed]:
    with bed_with_images(f"r{os.getpid() % 10000}", 2, IMAGES, GATEWAY_DIR) as made:
        yield made


def host_address(bed: SwarmBed) -> str:
    """Muelle's host as the nodes reach it: the bed's bridge (their default route)."""
    return bed.addrs[0].rpartition(".")[0] + ".1"


def registry_tls(bed: SwarmBed, folder: Path, host: str) -> course_registry.Tls:
    """A server certificate for the registry's address, signed by the bed's CA."""
    ca, key, cert = bed.dir / "tls" / "ca.pem", folder / "key.pem", folder / "cert.pem"
    csr, ext = folder / "req.csr", folder / "ext.cnf"
    ext.write_text(f"subjectAltName=IP:{host}\nextendedKeyUsage=serverAuth\n")
    subprocess.run(
        ["openssl", "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-subj", "/CN=registry", "-keyout", str(key),
         "-out", str(csr)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey",
         str(bed.dir / "tls" / "ca-key.pem"), "-CAcreateserial", "-days", "1", "-out",
         str(cert), "-extfile", str(ext)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return course_registry.Tls(cert, key, ca)


@contextlib.contextmanager
def trusted_by_engines(address: str, ca: Path) -> Iterator[None]:
    """The bed's CA trusted for this host:port only. The bed's dockerds read the same
    /etc/docker/certs.d as the machine's engine: harmless for one address, and removed after."""
    folder = CERTS_D / address
    folder.mkdir(parents=True)
    try:
        shutil.copy(ca, folder / "ca.crt")
        yield
    finally:
        shutil.rmtree(folder)
        with contextlib.suppress(OSError):
            CERTS_D.rmdir()  # only if this made it and nothing else is there


@pytest.fixture
async def swarm(settings: Any, transactional_db: None, bed: SwarmBed) -> AsyncIterator[SwarmBed]:
    settings.REGISTRY_USERNAME = course_registry.USERNAME
    async with muelle_on_bed(settings, bed, INSTANCE, GATEWAY_DIR) as ready:
        yield ready


async def student_runs(bed: SwarmBed, owner: str, script: str) -> tuple[int | None, str, str]:
    """Runs `script` in a new sandbox of `owner`: exit code, output, and the sandbox's id."""
    box = await engine.acquire(owner)
    assert engine_of(box.container_id) in bed.engines  # on a node, never Muelle's own engine
    result = await engine.run(box, ["bash", "-c", script], timeout=180)
    return result.exit_code, result.output.decode(errors="replace"), box.container_id


async def remote_tags(owner: str) -> list[str]:
    config = lifecycle.current_config()
    client = RegistryClient(config)
    return await client.tags(f"{student_key(config.instance, owner)}/hola")


async def test_a_registry_on_muelles_loopback_is_not_reached_from_a_node(
    swarm: SwarmBed, settings: Any, tmp_path: Path
) -> None:
    """Today's default (REGISTRY_URL on 127.0.0.1): the gateway's checks reach it from Muelle's
    host, but the push is made by the node's engine, whose 127.0.0.1 is the node itself."""
    port = free_port("127.0.0.1")
    process = course_registry.start(tmp_path, port)
    try:
        settings.REGISTRY_URL = f"127.0.0.1:{port}"
        settings.REGISTRY_PASSWORD = course_registry.ensure_password(tmp_path)
        code, output, box = await student_runs(swarm, "owner-loopback", ROUND_TRIP)
        # The engine's own error, its address rewritten to the course name (docs/registry.md).
        assert code != 0, output
        assert "connection refused" in output, output
        assert await remote_tags("owner-loopback") == []  # nothing arrived
        await engine.remove_now(box)
    finally:
        course_registry.stop(process)


async def test_a_tls_registry_the_nodes_reach_works_and_keeps_students_apart(
    swarm: SwarmBed, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = host_address(swarm)
    port = free_port(host)
    tls = registry_tls(swarm, tmp_path, host)
    process = course_registry.start(tmp_path / "registry", port, host=host, tls=tls)
    try:
        settings.REGISTRY_URL = f"https://{host}:{port}"
        settings.REGISTRY_PASSWORD = course_registry.ensure_password(tmp_path / "registry")
        # The gateway's own calls (quotas, existence) check the certificate against this CA.
        monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca))
        with trusted_by_engines(f"{host}:{port}", tls.ca):
            code, output, box = await student_runs(swarm, "owner-a", ROUND_TRIP)
            assert code == 0, output
            assert "¡Hola desde Muelle!" in output
            assert f"{host}:{port}" not in output  # the student reads the course name
            assert await remote_tags("owner-a") == ["1"]
            # Another student (whichever node) cannot pull it: their namespace is their own.
            code, output, other = await student_runs(
                swarm, "owner-b", "docker pull registro.muelle/hola:1"
            )
            assert code != 0 and "No existe «registro.muelle/hola:1»" in output, output
            await engine.remove_now(other)
            # The end of the sandbox deletes what the student pushed, as on one host.
            await engine.remove_now(box)
            assert await remote_tags("owner-a") == []
        assert not (CERTS_D / f"{host}:{port}").exists()
    finally:
        course_registry.stop(process)
