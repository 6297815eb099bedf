"""deploy/ brought up for real (deploy/test-deploy.sh): the Compose stack on the host's engine
(nginx with TLS, Muelle's web image, PostgreSQL, Redis) and the students' own dockerd with
--userns-remap=default. Everything is reached as a browser would, through the proxy on
loopback: the index and a lesson over HTTPS, a terminal over wss where `docker run` works, the
preview origin of a published port, and, on the host, the student's containers owned by a
remapped uid. The stack runs two web processes behind the proxy: requests reach both, a
student's pages, terminal and previews (their 404s and websockets too) reach one of them at the
first try, and a terminal whose web process is killed reconnects to the other one and finds the
same shell.
The module's fixture removes all of it afterwards, also when a test fails."""

from __future__ import annotations

import asyncio
import base64
import http.client
import os
import re
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
from websockets.asyncio.client import connect

from harness.shell_commands import curl_once_listening

from .stack_client import Stack, Student, get, students_engine_names

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
        "MUELLE_WEB_PROCESSES": "2",
        **students_engine_names(f"muelle-students-{tag}", f"mst{tag}", net),
    }
    try:
        subprocess.run([SCRIPT, "up"], env=env, check=True, timeout=1200)
        yield Stack(
            work=work,
            domain=DOMAIN,
            port=int(env["MUELLE_HTTPS_PORT"]),
            http_port=int(env["MUELLE_HTTP_PORT"]),
            engine_socket=f"unix://{work}/engine/run/docker.sock",
            env=env,
        )
    finally:
        # The stack's own account of what happened, shown by pytest when a test failed.
        subprocess.run(
            [SCRIPT, "compose", "logs", "--no-color", "--tail=400", "web", "proxy"],
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


def service_containers(stack: Stack, service: str) -> list[str]:
    """The containers of one of the stack's services, running or not."""
    out = subprocess.run(
        [SCRIPT, "compose", "ps", "-q", service],
        env=stack.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out.stdout.split()


def web_processes(stack: Stack) -> list[str]:
    """The containers of the stack's `web` service (one web process each)."""
    return service_containers(stack, "web")


def log_of(container: str) -> str:
    """What the container wrote (uvicorn's access log: each request's path and query)."""
    out = subprocess.run(
        ["timeout", "60", "docker", "logs", container], capture_output=True, text=True
    )
    return out.stdout + out.stderr


def is_running(container: str) -> bool:
    out = subprocess.run(
        ["timeout", "60", "docker", "inspect", "-f", "{{.State.Running}}", container],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() == "true"


def host_uid(pid: str) -> int:
    """The uid the host's kernel gives the process (not the one it has in its container)."""
    uid = host_uid_or_none(pid)
    assert uid is not None, f"no process {pid}"
    return uid


def host_uid_or_none(pid: str) -> int | None:
    out = subprocess.run(["ps", "-o", "uid=", "-p", pid], capture_output=True, text=True)
    return int(out.stdout.strip()) if out.stdout.strip() else None


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


def enter_preview(stack: Stack, student: Student, port: int) -> tuple[str, str]:
    """Muelle's link to the student's published port, followed as the browser does: the preview
    host name and its cookie."""
    opened = get(stack, f"/sandbox/puertos/{port}/abrir/", cookie=student.cookie)
    assert opened.status == 302, opened.body[:300]
    location = urlsplit(opened.headers["Location"])
    assert location.scheme == "https" and location.port == stack.port
    assert location.hostname and location.hostname.endswith(f".vista.{stack.domain}")
    entered = get(stack, f"{location.path}?{location.query}", host=location.hostname)
    assert entered.status == 303, entered.body[:300]
    cookie = (entered.headers.get("Set-Cookie") or "").split(";")[0]
    assert cookie.startswith("muelle_vista=")
    return location.hostname, cookie


def proxy_log(stack: Stack) -> str:
    (proxy,) = service_containers(stack, "proxy")
    return log_of(proxy)


async def test_a_published_port_is_previewed_through_the_proxy(stack: Stack) -> None:
    ana = Student(stack)
    try:
        out = await ana.shell(
            "docker run -d -m 32m --name web -p 8080:80 muelle/busybox sh -c "
            "'mkdir -p /tmp/w && echo pagina-desplegada > /tmp/w/index.html && "
            "exec httpd -f -p 80 -h /tmp/w' && " + curl_once_listening("localhost:8080/")
        )
        assert "pagina-desplegada" in out
        preview_host, preview_cookie = enter_preview(stack, ana, 8080)
        page = get(stack, "/", host=preview_host, cookie=preview_cookie)
        assert page.status == 200 and "pagina-desplegada" in page.body
        # Without the owner's cookie the same host refuses, also with Muelle's session cookie.
        refused = get(stack, "/", host=preview_host, cookie=ana.cookie)
        assert refused.status == 403 and "pagina-desplegada" not in refused.body
    finally:
        await ana.close()


def addresses_of(container: str) -> set[str]:
    """The container's addresses on its networks (the proxy's log names a process by one)."""
    out = subprocess.run(
        [
            "timeout",
            "60",
            "docker",
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
            container,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def proxy_line(stack: Stack, probe: str) -> tuple[str, str]:
    """(web=, upstream=) of the one line of the proxy's log for the request carrying `probe`."""
    lines = [line for line in proxy_log(stack).splitlines() if probe in line]
    assert len(lines) == 1, lines
    found = re.search(r"web=(.*) upstream=(.*)$", lines[0])
    assert found, lines[0]
    return found.group(1), found.group(2)


def terminal_process(stack: Stack, student: Student) -> str:
    """The web process (container) that accepted the student's terminal."""
    accepted = f"/ws/terminal/?t={student.tab}"
    holders = [p for p in web_processes(stack) if accepted in log_of(p)]
    assert len(holders) == 1, "one web process accepted the terminal"
    return holders[0]


SERVE = (
    "'mkdir -p /tmp/w && echo pagina-desplegada > /tmp/w/index.html && "
    "exec httpd -f -p 80 -h /tmp/w'"
)


async def test_a_students_previews_reach_their_terminals_process_at_the_first_try(
    stack: Stack,
) -> None:
    """Only the web process that shows the student's terminal serves their published ports. The
    proxy hashes the same key on both origins (the public id: Muelle's `muelle_ruta` cookie, the
    preview's host name), so each preview request goes to that process at once: one upstream,
    its 200, in the proxy's log, for every port (six host names: hashed by host name instead,
    all six on the right process would be a chance of 1 in 2**6), and the student's pages too."""
    ana = Student(stack)
    ports = list(range(8090, 8096))
    try:
        flags = " ".join(f"-p {port}:80" for port in ports)
        await ana.shell(f"docker run -d -m 32m {flags} muelle/busybox sh -c {SERVE}")
        assert ana.status == 0
        out = await ana.shell(curl_once_listening(f"localhost:{ports[-1]}/"))
        assert "pagina-desplegada" in out
        holder = addresses_of(terminal_process(stack, ana))
        for port in ports:
            preview_host, cookie = enter_preview(stack, ana, port)
            assert preview_host.split(".")[0] == f"{port}-{ana.route}"
            probe = f"vista{secrets.token_hex(6)}"
            page = get(stack, f"/?{probe}", host=preview_host, cookie=cookie)
            assert page.status == 200 and "pagina-desplegada" in page.body, page.body[:300]
            web, upstream = proxy_line(stack, probe)
            assert upstream == "200", (web, upstream)
            assert web.rsplit(":", 1)[0] in holder, (web, holder)
        probe = f"pagina{secrets.token_hex(6)}"
        assert get(stack, f"/?{probe}", cookie=ana.cookie).status == 200
        web, upstream = proxy_line(stack, probe)
        assert upstream == "200" and web.rsplit(":", 1)[0] in holder, (web, holder)
    finally:
        await ana.close()


async def test_a_students_own_404_reaches_the_browser_unchanged(stack: Stack) -> None:
    """A page the student's server does not have: its own 404 reaches the browser, not
    Muelle's, and the proxy asked no other process (one upstream status, the 404)."""
    ana = Student(stack)
    try:
        await ana.shell(f"docker run -d -m 32m -p 8120:80 muelle/busybox sh -c {SERVE}")
        assert ana.status == 0
        missing = f"/no-existe-{secrets.token_hex(6)}"
        inside = await ana.shell(curl_once_listening(f"localhost:8120{missing}"))
        assert "404" in inside
        preview_host, cookie = enter_preview(stack, ana, 8120)
        page = get(stack, missing, host=preview_host, cookie=cookie)
        assert page.status == 404
        # What curl got inside the sandbox, line by line (the terminal turns \n into \r\n).
        lines = [line.strip() for line in page.body.strip().splitlines()]
        assert lines and all(line in inside for line in lines), page.body[:300]
        web, upstream = proxy_line(stack, missing)
        assert upstream == "404" and "," not in web, (web, upstream)
    finally:
        await ana.close()


# A websocket server in busybox (nc runs it per connection): it answers the handshake, greets,
# and echoes one short text message the client sends (masked, as clients must).
WS_SERVER = r"""key=
while read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  [ -z "$line" ] && break
  case "$line" in [Ss]ec-[Ww]eb[Ss]ocket-[Kk]ey:*) key=$(echo "${line#*:}" | tr -d ' ') ;; esac
done
accept=$(printf '%s' "${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11" | sha1sum | cut -c1-40 \
  | xxd -r -p | base64)
printf 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
printf 'Sec-WebSocket-Accept: %s\r\n\r\n' "$accept"
printf '\201\013hola-socket'
set -- $(dd bs=1 count=2 2>/dev/null | od -An -tu1)
len=$(($2 & 127))
text=$(dd bs=1 count=$((4 + len)) 2>/dev/null | od -An -tu1 -v | tr -s ' \n' '  ' \
  | awk '{ for (i = 5; i <= NF; i++) printf "%c", xor($i, $((i - 5) % 4 + 1)) }')
reply="eco:$text"
printf "\\201\\$(printf %o ${#reply})%s" "$reply"
dd bs=1 count=1 >/dev/null 2>&1
"""


async def test_a_websocket_of_the_students_app_works_through_a_preview(stack: Stack) -> None:
    """The student's app speaks websocket on published ports: through the proxy, on each
    preview's origin, the browser's websocket reaches it both ways, at the first try on the
    process of the student's terminal (the other one refuses it, and a refused handshake is
    not tried elsewhere). Four host names: hashed by host name instead, all four on the right
    process would be a chance of 1 in 2**4."""
    ana = Student(stack)
    ports = list(range(8130, 8134))
    try:
        script = base64.b64encode(WS_SERVER.encode()).decode()
        flags = " ".join(f"-p {port}:80" for port in ports)
        await ana.shell(
            f"docker run -d -m 32m {flags} -e WS={script} muelle/busybox sh -c "
            "'echo \"$WS\" | base64 -d > /tmp/ws.sh && exec nc -ll -p 80 -e sh /tmp/ws.sh'"
        )
        assert ana.status == 0
        holder = addresses_of(terminal_process(stack, ana))
        for port in ports:
            preview_host, cookie = enter_preview(stack, ana, port)
            probe = f"eco{secrets.token_hex(6)}"
            sock = socket.create_connection(("127.0.0.1", stack.port), 30)
            async with connect(
                f"wss://{preview_host}:{stack.port}/{probe}",
                sock=sock,
                ssl=stack.tls(),
                server_hostname=preview_host,
                origin=f"https://{preview_host}:{stack.port}",  # type: ignore[arg-type]
                additional_headers={"Cookie": cookie},
                open_timeout=60,
            ) as ws:
                assert await asyncio.wait_for(ws.recv(), 60) == "hola-socket"
                await ws.send(f"hola-{port}")
                assert await asyncio.wait_for(ws.recv(), 60) == f"eco:hola-{port}"
            for _ in range(50):  # nginx writes the line once the websocket has closed
                if probe in proxy_log(stack):
                    break
                await asyncio.sleep(0.2)
            web, upstream = proxy_line(stack, probe)
            assert upstream == "101" and web.rsplit(":", 1)[0] in holder, (web, upstream, holder)
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
        # Earlier tests' sandboxes may be going away meanwhile: those that are still there.
        inspected = subprocess.run(
            ["docker", "-H", stack.engine_socket, "inspect", "-f", "{{.State.Pid}}", *sandboxes],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.split()
        # A sandbox may also end between the inspect and `ps`: its process is then gone.
        uids = [host_uid_or_none(pid) for pid in inspected if pid != "0"]
        alive = [uid for uid in uids if uid is not None]  # uid 0 (root) kept: it must fail
        assert alive, "ana's own sandbox is running"
        assert all(uid >= REMAP_FIRST_UID for uid in alive), alive
        # Nothing of the student's is on the host's own engine.
        main = subprocess.run(
            ["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True
        ).stdout.split()
        assert not [n for n in main if n.endswith("_dormilon")]
    finally:
        await ana.close()


MEASURE_IN_WEB = """
import asyncio
from sandbox.gateway import disk_host
from sandbox.gateway.config import GatewayConfig
from sandbox.gateway.student import Student
from sandbox.gateway.upstream import Upstream
config = GatewayConfig.from_settings()
found = asyncio.run(disk_host.usage(Student(OWNER, config, Upstream(config.engine_socket))))
print("medida", "ninguna" if found is None else found.bytes)
"""


async def test_the_disk_limit_walks_the_students_engine_from_the_web_container(
    stack: Stack,
) -> None:
    # The web container sees the engine's data (read-only) and its processes: a deleted file a
    # container holds open, which the engine's own `system df` never counts, is measured.
    ana = Student(stack)
    try:
        await ana.shell(
            "docker run -d --name retiene muelle/busybox sh -c "
            "'exec 3>/f; rm /f; dd if=/dev/zero bs=1M count=30 >&3 2>/dev/null; exec sleep 300'"
        )
        assert ana.status == 0
        names = students_engine(stack, "ps", "--format", "{{.Names}}").split()
        (name,) = [n for n in names if n.endswith("_retiene")]
        owner = students_engine(
            stack, "inspect", "-f", '{{index .Config.Labels "muelle.student"}}', name
        )
        program = MEASURE_IN_WEB.replace("OWNER", repr(owner))
        for _attempt in range(30):  # until dd has written it all
            # As the entrypoint does: the settings need the secret key, read from its file.
            shell = (
                'SECRET_KEY="$(cat /run/secrets/muelle_secret_key)" python manage.py shell -c "$0"'
            )
            out = subprocess.run(
                ["docker", "exec", web_processes(stack)[0], "sh", "-c", shell, program],
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            measured = out.stdout.split("medida ")[-1].strip()
            assert measured.isdigit(), out.stdout + out.stderr
            if int(measured) >= 30 * 1024**2:
                break
            await asyncio.sleep(1)
        assert int(measured) >= 30 * 1024**2
    finally:
        await ana.close()


def test_the_main_engines_bridge_is_untouched(stack: Stack) -> None:
    """A dockerd started with --bridge=none deletes the host's docker0: the students' engine
    brings its own bridge instead, and the main engine still starts containers on docker0."""
    assert subprocess.run(["ip", "link", "show", "docker0"], capture_output=True).returncode == 0
    assert students_engine(stack, "info", "--format", "{{.DockerRootDir}}").endswith(
        f"/{REMAP_FIRST_UID}.{REMAP_FIRST_UID}"
    )


def test_requests_reach_both_web_processes(stack: Stack) -> None:
    """Students are spread over the web processes by their route key; each request is answered
    by one of them (its access log has the request's probe) and the proxy's log says which."""
    processes = web_processes(stack)
    assert len(processes) == 2
    probes: list[str] = []
    answered: dict[str, list[str]] = {}
    # Each request as another student (a random route key, the public id a student's
    # muelle_ruta cookie carries): two processes both answer well within 40 tries (all 40 on
    # one: a chance of 2 in 2**40).
    while len(probes) < 40 and not (len(answered) == 2 and all(answered.values())):
        probes.append(f"sonda{secrets.token_hex(8)}")
        route = f"__Host-muelle_ruta={secrets.token_hex(6)}"
        assert get(stack, f"/?{probes[-1]}", cookie=route).status == 200
        answered = {p: [x for x in probes if x in log_of(p)] for p in processes}
    assert all(answered.values()), answered
    # Every probe was answered by exactly one process.
    assert sorted(x for got in answered.values() for x in got) == sorted(probes)
    proxy_log = subprocess.run(
        [SCRIPT, "compose", "logs", "--no-color", "proxy"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    upstreams = {
        m.group(1)
        for line in proxy_log.splitlines()
        if any(x in line for x in probes)
        for m in [re.search(r"web=(\S+)", line)]
        if m
    }
    assert len(upstreams) == 2, upstreams


async def test_a_terminal_outlives_the_web_process_that_served_it(stack: Stack) -> None:
    """TERMINAL_HELD_SHELLS: the shell lives in the sandbox (dtach), not in the web process.
    Killing the process that showed it (SIGKILL, as a crash) and reconnecting the same tab
    through the proxy reaches the other process, which shows the same shell: the same $$, the
    variable, the background job, and `docker` through the student's gateway, now served by
    the other process. Runs last: it leaves one web process."""
    ana = Student(stack)
    try:
        out = await ana.shell("export MARCA=42; sleep 1000 & echo pid=$$")
        assert ana.status == 0
        found = re.search(r"pid=(\d+)", out)
        assert found, out
        shell_pid = found.group(1)
        accepted = f"/ws/terminal/?t={ana.tab}"
        first = [p for p in web_processes(stack) if accepted in log_of(p)]
        assert len(first) == 1, "one web process accepted the terminal"
        served_by = first[0]

        subprocess.run(["timeout", "60", "docker", "kill", served_by], check=True)
        assert not is_running(served_by)
        await ana.reconnect()

        out = await ana.shell("echo pid=$$ marca=$MARCA; jobs")
        assert ana.status == 0
        assert f"pid={shell_pid} marca=42" in out, out
        assert re.search(r"Running\s+sleep 1000", out), out
        out = await ana.shell("docker run --rm muelle/hola")
        assert ana.status == 0 and "¡Hola desde Muelle!" in out
        # The reconnect was accepted by the other process, the one still running.
        others = [p for p in web_processes(stack) if p != served_by]
        assert len(others) == 1 and is_running(others[0])
        assert accepted in log_of(others[0])
    finally:
        await ana.close()
