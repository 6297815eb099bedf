"""deploy/ brought up for real (deploy/test-deploy.sh): the Compose stack on the host's engine
(nginx with TLS, Muelle's web image, PostgreSQL, Redis) and the students' own dockerd with
--userns-remap=default. Everything is reached as a browser would, through the proxy on
loopback: the index and a lesson over HTTPS, a terminal over wss where `docker run` works, the
preview origin of a published port, and, on the host, the student's containers owned by a
remapped uid. The module's fixture removes all of it afterwards, also when a test fails."""

from __future__ import annotations

import http.client
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .stack_client import Stack, Student, get

pytestmark = [pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "test-deploy.sh"
DOMAIN = "muelle.localhost"
REMAP_FIRST_UID = 100000  # dockremap's first subordinate uid (/etc/subuid)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is missing (Debian package docker-compose)")
    work = Path(tempfile.mkdtemp(prefix="muelle-deploy-", dir="/tmp"))
    tag = f"{os.getpid() % 100000}"
    net = 1 + secrets.randbelow(250)
    env = {
        **os.environ,
        "MUELLE_DEPLOY_TEST_DIR": str(work),
        "MUELLE_DEPLOY_PROJECT": f"muelle-deploy-{tag}",
        "MUELLE_DOMAIN": DOMAIN,
        "MUELLE_HTTPS_PORT": str(free_port()),
        "MUELLE_HTTP_PORT": str(free_port()),
        "MUELLE_BACK_SUBNET": f"10.239.{net}.0/24",
        # Names of the students' engine that no other run on this machine uses.
        "MUELLE_ENGINE_NAME": f"muelle-students-{tag}",
        "MUELLE_ENGINE_BRIDGE": f"mst{tag}",
        "MUELLE_ENGINE_BIP": f"10.241.{net}.1/24",
        "MUELLE_ENGINE_ADDRESS_POOL": f"base=10.{242 + net % 8}.0.0/16,size=24",
    }
    try:
        subprocess.run([SCRIPT, "up"], env=env, check=True, timeout=1200)
        yield Stack(
            work=work,
            domain=DOMAIN,
            port=int(env["MUELLE_HTTPS_PORT"]),
            http_port=int(env["MUELLE_HTTP_PORT"]),
            engine_socket=f"unix://{work}/engine/run/docker.sock",
        )
    finally:
        # The stack's own account of what happened, shown by pytest when a test failed.
        subprocess.run(
            [SCRIPT, "compose", "logs", "--no-color", "--tail=60", "web", "proxy"],
            env=env,
            check=False,
            timeout=120,
        )
        subprocess.run([SCRIPT, "down"], env=env, check=False, timeout=600)
        # Nothing of the students' engine outlives it: data, bridge, cgroups.
        assert not work.exists()
        bridge = subprocess.run(["ip", "link", "show", env["MUELLE_ENGINE_BRIDGE"]])
        assert bridge.returncode != 0
        assert not list(Path("/sys/fs/cgroup").glob(f"*/{env['MUELLE_ENGINE_NAME']}"))


def students_engine(stack: Stack, *args: str) -> str:
    return subprocess.run(
        ["docker", "-H", stack.engine_socket, *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()


def host_uid(pid: str) -> int:
    """The uid the host's kernel gives the process (not the one it has in its container)."""
    out = subprocess.run(["ps", "-o", "uid=", "-p", pid], capture_output=True, text=True)
    return int(out.stdout.strip())


def test_the_index_and_a_lesson_come_over_https_through_the_proxy(stack: Stack) -> None:
    index = get(stack, "/")
    assert index.status == 200
    assert "Muelle" in index.body
    assert "max-age=" in (index.headers.get("Strict-Transport-Security") or "")
    lesson = get(stack, "/lecciones/que-es-docker/")
    assert lesson.status == 200 and "<h1" in lesson.body
    # Static files come from nginx itself (the web image's collected, hashed files).
    css = next(p for p in lesson.body.split('"') if p.startswith("/static/") and p.endswith(".css"))
    static = get(stack, css)
    assert static.status == 200 and static.headers.get("Server", "").startswith("nginx")
    assert "text/css" in static.headers.get("Content-Type", "")


def test_plain_http_only_redirects_to_https(stack: Stack) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=30)
    conn.request("GET", "/lecciones/", headers={"Host": stack.domain})
    answer = conn.getresponse()
    assert answer.status == 301
    assert answer.getheader("Location") == f"https://{stack.domain}/lecciones/"
    conn.close()


def test_an_unknown_name_gets_no_tls_handshake(stack: Stack) -> None:
    with pytest.raises(ssl.SSLError):
        get(stack, "/", host="otro.example")


async def test_a_terminal_through_the_proxy_runs_docker(stack: Stack) -> None:
    ana = Student(stack)
    try:
        out = await ana.shell("docker run --rm muelle/hola")
        assert "¡Hola desde Muelle!" in out and ana.status == 0
        # It ran on the students' engine (the gateway's prefixed names), not the host's.
        await ana.shell("docker run -d -m 32m --name saludo muelle/busybox sleep 60")
        assert ana.status == 0
        names = students_engine(stack, "ps", "--format", "{{.Names}}").split()
        assert [n for n in names if n.endswith("_saludo")], names
    finally:
        await ana.close()


async def test_a_build_runs_in_its_limits_cgroup(stack: Stack) -> None:
    """The gateway makes each student's build cgroup (pids and memory limits) in the host's
    hierarchy, mounted into the web container, where the students' engine on the host looks
    for it; where it cannot make one it refuses the build, so a build that runs had it."""
    ana = Student(stack)
    try:
        out = await ana.shell(
            "mkdir -p ~/b && cd ~/b && printf 'FROM muelle/busybox\\nRUN echo construido > /c"
            "\\nCMD cat /c\\n' > Dockerfile && docker build -q -t mia . && docker run --rm mia",
            timeout=180,
        )
        assert ana.status == 0 and "construido" in out
    finally:
        await ana.close()


async def test_a_published_port_is_previewed_through_the_proxy(stack: Stack) -> None:
    ana = Student(stack)
    try:
        out = await ana.shell(
            "docker run -d -m 32m --name web -p 8080:80 muelle/busybox sh -c "
            "'mkdir -p /tmp/w && echo pagina-desplegada > /tmp/w/index.html && "
            "exec httpd -f -p 80 -h /tmp/w' && sleep 1 && curl -s localhost:8080/"
        )
        assert "pagina-desplegada" in out
        opened = get(stack, "/sandbox/puertos/8080/abrir/", cookie=ana.cookie)
        assert opened.status == 302, opened.body[:300]
        location = urlsplit(opened.headers["Location"])
        assert location.scheme == "https" and location.port == stack.port
        assert location.hostname and location.hostname.endswith(f".vista.{stack.domain}")
        preview_host = location.hostname
        entered = get(stack, f"{location.path}?{location.query}", host=preview_host)
        assert entered.status == 303, entered.body[:300]
        preview_cookie = (entered.headers.get("Set-Cookie") or "").split(";")[0]
        assert preview_cookie.startswith("muelle_vista=")
        page = get(stack, "/", host=preview_host, cookie=preview_cookie)
        assert page.status == 200 and "pagina-desplegada" in page.body
        # Without the owner's cookie the same host refuses, also with Muelle's session cookie.
        refused = get(stack, "/", host=preview_host, cookie=ana.cookie)
        assert refused.status == 403 and "pagina-desplegada" not in refused.body
    finally:
        await ana.close()


async def test_the_students_containers_run_as_a_remapped_uid_on_the_host(stack: Stack) -> None:
    ana = Student(stack)
    try:
        await ana.shell("docker run -d -m 32m --name dormilon muelle/busybox sleep 300")
        assert ana.status == 0
        # The student's own container: found on the students' engine by its prefixed name.
        names = students_engine(stack, "ps", "--format", "{{.Names}}").split()
        dormilon = [n for n in names if n.endswith("_dormilon")]
        assert len(dormilon) == 1, names
        pid = students_engine(stack, "inspect", "-f", "{{.State.Pid}}", dormilon[0])
        assert host_uid(pid) == REMAP_FIRST_UID  # root in the container, 100000 on the host
        # The student's sandbox (their shell, uid 1000 inside): 101000 on the host.
        sandboxes = students_engine(
            stack,
            "ps",
            "-q",
            "--filter",
            "label=muelle.managed=1",
            "--filter",
            "ancestor=muelle/sandbox:latest",
        ).split()
        assert sandboxes
        for sandbox in sandboxes:
            pid = students_engine(stack, "inspect", "-f", "{{.State.Pid}}", sandbox)
            assert host_uid(pid) >= REMAP_FIRST_UID
        # Nothing of the student's is on the host's own engine.
        main = subprocess.run(
            ["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True
        ).stdout.split()
        assert not [n for n in main if n.endswith("_dormilon")]
    finally:
        await ana.close()


def test_the_main_engines_bridge_is_untouched(stack: Stack) -> None:
    """A dockerd started with --bridge=none deletes the host's docker0: the students' engine
    brings its own bridge instead, and the main engine still starts containers on docker0."""
    assert subprocess.run(["ip", "link", "show", "docker0"], capture_output=True).returncode == 0
    assert students_engine(stack, "info", "--format", "{{.DockerRootDir}}").endswith(
        f"/{REMAP_FIRST_UID}.{REMAP_FIRST_UID}"
    )
