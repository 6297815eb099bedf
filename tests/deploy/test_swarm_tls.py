"""The Swarm nodes' engines speak mutual TLS only (deploy/swarm/testbed.sh: `--tlsverify` on
2376, a throwaway CA), and Muelle reaches them through it (sandbox/docker_api/node_tls.py): a
client without a certificate, or with one of another CA, is refused by a node; Muelle refuses a
node its CA did not sign; with the bed's material Muelle's client works, also for a hijacked
stream half-closed by the client (what `docker run -i` needs). The placement tests
(test_swarm_placement.py) run the whole of Muelle on the bed through the same TLS."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.swarm_bed import SwarmBed, load_images, run, swarm_bed
from sandbox.docker_api import node_tls
from sandbox.docker_api.client import EngineUnavailable, call_on_sync

pytestmark = [pytest.mark.docker]


@pytest.fixture(scope="module")
def bed() -> Iterator[SwarmBed]:
    tag = f"t{os.getpid() % 10000}"
    folder = Path(tempfile.mkdtemp(prefix="muelle-swarm-", dir="/tmp"))
    with swarm_bed(folder, tag, slots=1) as bed:
        load_images(bed, ["muelle/busybox:latest"])
        yield bed
    assert not folder.exists()


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    """A CA the nodes do not know, and a client certificate it signed: (CA, cert, key)."""
    folder = tmp_path_factory.mktemp("stranger")
    ca, ca_key = folder / "ca.pem", folder / "ca-key.pem"
    cert, key, csr = folder / "cert.pem", folder / "key.pem", folder / "client.csr"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(
        "openssl", "req", "-x509", "-new", *ec, "-days", "1", "-subj", "/CN=stranger CA",
        "-keyout", str(ca_key), "-out", str(ca),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    run("openssl", "req", "-new", *ec, "-subj", "/CN=muelle", "-keyout", str(key), "-out", str(csr))
    extensions = folder / "client.ext"
    extensions.write_text("extendedKeyUsage=clientAuth\n")
    run(
        "openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "1", "-out", str(cert), "-extfile", str(extensions),
    )  # fmt: skip
    return str(ca), str(cert), str(key)


def docker_cli(address: str, *tls: str) -> subprocess.CompletedProcess[str]:
    """`docker version` against a node's TCP endpoint with the TLS flags given."""
    return subprocess.run(
        ["timeout", "60", "docker", "-H", address, *tls, "version", "-f", "{{.Server.Version}}"],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_node_serves_only_clients_holding_a_certificate_of_its_ca(
    bed: SwarmBed, stranger: tuple[str, str, str]
) -> None:
    ca, cert, key = bed.tls
    address = bed.engine(1)
    # With the bed's client certificate: served (the control for the refusals below).
    good = docker_cli(address, "--tlsverify", "--tlscacert", ca, "--tlscert", cert, "--tlskey", key)
    assert good.returncode == 0 and good.stdout.strip(), good.stderr
    # No client certificate: the node refuses the handshake.
    anonymous = docker_cli(address, "--tlsverify", "--tlscacert", ca)
    assert anonymous.returncode != 0 and "bad certificate" in anonymous.stderr
    # A certificate of another CA: refused the same way.
    _other_ca, other_cert, other_key = stranger
    forged = docker_cli(
        address, "--tlsverify", "--tlscacert", ca, "--tlscert", other_cert, "--tlskey", other_key
    )
    assert forged.returncode != 0 and "bad certificate" in forged.stderr
    # Plain HTTP gets no API at all, and nothing listens on the old plain port.
    with socket.create_connection((bed.addrs[1], 2376), timeout=10) as plain:
        plain.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
        answer = plain.recv(4096)
    assert b"HTTPS server" in answer and b"OK" not in answer.split(b"\r\n\r\n", 1)[-1]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((bed.addrs[1], 2375), timeout=10).close()


def test_muelle_reaches_a_node_through_tls_with_the_beds_material(
    bed: SwarmBed, settings: Any
) -> None:
    for name, value in bed.muelle_settings().items():
        setattr(settings, name, value)
    address = bed.engine(2)
    version = call_on_sync(address, lambda api: api.version()["Version"])
    assert version

    def echo_in_a_container(api: Any) -> bytes:
        # A hijacked exec stream, which the node ends with its close_notify.
        box = api.create_container("muelle/busybox", ["sleep", "60"], labels={"muelle.test": "1"})
        try:
            api.start(box["Id"])
            return bytes(api.exec_start(api.exec_create(box["Id"], ["echo", "hola"])["Id"]))
        finally:
            api.remove_container(box["Id"], force=True)

    assert call_on_sync(address, echo_in_a_container) == b"hola\n"
    # The relay still serves after that stream's end (it once spun on the close_notify).
    assert call_on_sync(address, lambda api: api.version()["Version"]) == version
    # The SDK's connection goes to the local relay, never to the node's port in the clear.
    relay = node_tls.local_address(address)
    assert relay.startswith("unix://") and Path(relay.removeprefix("unix://")).is_socket()
    assert oct(Path(relay.removeprefix("unix://")).stat().st_mode & 0o777) == "0o600"


def test_stdin_half_closed_by_the_client_reaches_the_node_through_tls(
    bed: SwarmBed, settings: Any
) -> None:
    # The docker CLI half-closes its connection when its stdin ends; the relay must carry that
    # as a close_notify, or `cat` in the container would wait for more input for ever.
    for name, value in bed.muelle_settings().items():
        setattr(settings, name, value)
    relay = node_tls.local_address(bed.engine(0))
    done = subprocess.run(
        ["timeout", "90", "docker", "-H", relay, "run", "-i", "--rm", "muelle/busybox",
         "sh", "-c", "cat; echo fin"],
        input="hola por TLS\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hola por TLS\nfin\n"


def test_muelle_refuses_a_node_its_ca_did_not_sign(
    bed: SwarmBed, settings: Any, stranger: tuple[str, str, str]
) -> None:
    for name, value in bed.muelle_settings().items():
        setattr(settings, name, value)
    other_ca, _cert, _key = stranger
    settings.SANDBOX_SWARM_TLS_CA = other_ca  # the node's certificate cannot be verified
    # A fresh address string, so neither a client nor a relay made above is reused.
    address = bed.engine(1) + "/"
    with pytest.raises(EngineUnavailable):
        call_on_sync(address, lambda api: api.version())


async def test_the_gateways_upstream_reaches_a_node_through_tls(
    bed: SwarmBed, settings: Any
) -> None:
    from sandbox.gateway.upstream import Upstream

    for name, value in bed.muelle_settings().items():
        setattr(settings, name, value)
    address = bed.engine(1)

    async def resolve() -> str:
        return address

    info = await Upstream("/nonexistent", resolve).json("GET", "/info")
    node_id = await asyncio.to_thread(
        run, "docker", "-H", bed.socks[1], "info", "-f", "{{.Swarm.NodeID}}"
    )
    assert info["Swarm"]["NodeID"] == node_id


def test_settings_refuse_a_swarm_over_plain_tcp_without_the_insecure_opt_in(
    tmp_path: Path,
) -> None:
    def start(**env: str) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SANDBOX_", "DJANGO_"))}
        return subprocess.run(
            [sys.executable, "-c", "import django; django.setup()"],
            env={
                **base,
                "DJANGO_SETTINGS_MODULE": "tutorial.settings",
                "SANDBOX_PLACEMENT": "swarm",
                "SANDBOX_SWARM_MANAGER": "tcp://10.0.0.1:2376",
                **env,
            },
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            cwd=Path(__file__).resolve().parents[2],
        )

    refused = start()
    assert refused.returncode != 0
    assert "without TLS" in refused.stderr and "SANDBOX_SWARM_TLS_CA" in refused.stderr
    assert start(SANDBOX_SWARM_INSECURE_TCP="1").returncode == 0
    pem = tmp_path / "ca.pem"
    pem.write_text("x")
    missing = start(
        SANDBOX_SWARM_TLS_CA=str(pem),
        SANDBOX_SWARM_TLS_CERT=str(pem),
        SANDBOX_SWARM_TLS_KEY=str(tmp_path / "nowhere.pem"),
    )
    assert missing.returncode != 0 and "SANDBOX_SWARM_TLS_KEY: no such file" in missing.stderr
    partial = start(SANDBOX_SWARM_TLS_CA=str(pem))
    assert partial.returncode != 0 and "set all three" in partial.stderr
    # Other spellings of plain TCP the Docker library accepts are refused, not let through.
    for manager in ("TCP://10.0.0.1:2376", "http://10.0.0.1:2375", "10.0.0.1:2375"):
        other = start(SANDBOX_SWARM_MANAGER=manager)
        assert other.returncode != 0 and "must start with unix:// or tcp://" in other.stderr
    engine = start(SANDBOX_SWARM_INSECURE_TCP="1", SANDBOX_SWARM_ENGINE="http://{addr}:2375")
    assert engine.returncode != 0 and "SANDBOX_SWARM_ENGINE must start" in engine.stderr
