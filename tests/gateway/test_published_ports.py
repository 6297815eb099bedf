"""`-p` through the gateway, with the real CLI: every publish form, how Docker shows it back,
conflicts, two students on the same port, and nothing left once the container is gone.

Nothing is bound on the server: the tests reach a published port the way the sandbox and the
preview do, through the student's port table (sockets inside the containers' namespaces).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from sandbox.ports import students as port_tables
from sandbox.ports.table import NotPublished
from tests.compose_project import compose_project

pytestmark = pytest.mark.docker

SERVE = "mkdir -p /tmp/w && echo {text} > /tmp/w/index.html && exec httpd -f -p 80 -h /tmp/w"


def http_get(student: Any, host_port: int, path: str = "/") -> str:
    async def fetch() -> str:
        table = port_tables.table_of(student.owner)
        assert table is not None
        reader, writer = await table.connect(host_port)
        writer.write(f"GET {path} HTTP/1.0\r\nHost: localhost:{host_port}\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(-1), 30)
        writer.close()
        return data.decode(errors="replace")

    return student.loop.run(fetch())


def serve(student: Any, name: str, text: str, *publish: str) -> str:
    return student.ok(
        "run",
        "-d",
        "-m",
        "32m",
        "--name",
        name,
        *publish,
        "muelle/busybox",
        "sh",
        "-c",
        SERVE.format(text=text),
    ).strip()


def wait_serving(student: Any, host_port: int) -> str:
    for _ in range(50):
        try:
            answer = http_get(student, host_port)
        except Exception:  # noqa: BLE001 - httpd not listening yet
            answer = ""
        if "200 OK" in answer:
            return answer
        student.loop.run(asyncio.sleep(0.1))
    raise AssertionError(f"nothing answered on {host_port}")


def test_p_host_port_is_shown_as_written_and_reaches_the_container(student: Any) -> None:
    serve(student, "web", "hola-desde-web", "-p", "8080:80")
    assert "hola-desde-web" in wait_serving(student, 8080)
    assert set(student.ok("port", "web").split("\n")) >= {
        "80/tcp -> 0.0.0.0:8080",
        "80/tcp -> :::8080",
    }
    assert "0.0.0.0:8080->80/tcp" in student.ok("ps")
    host = json.loads(student.ok("inspect", "-f", "{{json .HostConfig.PortBindings}}", "web"))
    assert host == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    labels = student.ok("inspect", "-f", "{{json .Config.Labels}}", "web")
    assert "muelle." not in labels


def test_loopback_address_engine_chosen_port_and_long_syntax(student: Any) -> None:
    serve(student, "uno", "uno", "-p", "127.0.0.1:8081:80")
    serve(student, "dos", "dos", "-p", "80")
    serve(student, "tres", "tres", "--publish", "published=8083,target=80")
    assert student.ok("port", "uno", "80").strip() == "127.0.0.1:8081"
    chosen = student.ok("port", "dos", "80").split("\n")[0].rsplit(":", 1)[1]
    assert 32768 <= int(chosen) <= 60999
    assert "dos" in wait_serving(student, int(chosen))
    assert "tres" in wait_serving(student, 8083)
    assert "uno" in wait_serving(student, 8081)


def test_publish_all_takes_the_exposed_ports(student: Any) -> None:
    student.ok(
        "run",
        "-d",
        "--name",
        "todo",
        "-P",
        "--expose",
        "80",
        "muelle/busybox",
        "sh",
        "-c",
        SERVE.format(text="todo"),
    )
    line = student.ok("port", "todo").split("\n")[0]
    assert line.startswith("80/tcp -> 0.0.0.0:")
    assert "todo" in wait_serving(student, int(line.rsplit(":", 1)[1]))


def test_the_same_port_twice_is_docker_s_own_error_and_the_container_stays(student: Any) -> None:
    serve(student, "web", "primero", "-p", "8080:80")
    wait_serving(student, 8080)
    error = student.refused(
        "run", "-d", "--name", "otro", "-p", "8080:80", "muelle/busybox", "sleep", "60"
    )
    assert "port is already allocated" in error and "8080" in error
    assert "Created" in student.ok("ps", "-a", "--filter", "name=otro", "--format", "{{.Status}}")
    assert "primero" in wait_serving(student, 8080)


def test_two_students_both_use_8080_and_each_reaches_their_own(
    student: Any, other_student: Any
) -> None:
    serve(student, "web", "de-ana", "-p", "8080:80")
    serve(other_student, "web", "de-beto", "-p", "8080:80")
    assert "de-ana" in wait_serving(student, 8080)
    assert "de-beto" in wait_serving(other_student, 8080)
    assert "de-ana" not in wait_serving(other_student, 8080)


@pytest.mark.parametrize(
    ("flag", "expected"),
    [("8080:80/udp", "solo publica puertos TCP"), ("8080-8090:80", "rangos")],
)
def test_udp_and_ranges_are_refused_in_spanish(student: Any, flag: str, expected: str) -> None:
    error = student.refused("run", "-d", "-p", flag, "muelle/busybox", "sleep", "5")
    assert expected in error
    assert student.ok("ps", "-aq") == ""


def test_the_port_goes_with_the_container(student: Any) -> None:
    serve(student, "web", "fugaz", "-p", "8080:80")
    wait_serving(student, 8080)
    student.ok("stop", "-t", "1", "web")
    with pytest.raises(NotPublished):
        http_get(student, 8080)
    assert student.ok("port", "web").strip() == ""
    student.ok("start", "web")
    assert "fugaz" in wait_serving(student, 8080)
    student.ok("rm", "-f", "web")
    with pytest.raises(NotPublished):
        http_get(student, 8080)


def test_a_container_that_exits_by_itself_unpublishes(student: Any) -> None:
    async def taken() -> set[int]:
        table = port_tables.table_of(student.owner)
        assert table is not None
        return set(table.host_ports())

    # It exits by itself once told to (a fixed `sleep 2` ended before the check on a loaded
    # machine).
    student.ok(
        "run", "-d", "--name", "breve", "-p", "8090:80", "muelle/busybox",
        "sh", "-c", "while [ ! -e /fin ]; do sleep 0.1; done",
    )  # fmt: skip
    assert 8090 in student.loop.run(taken())
    student.ok("exec", "breve", "touch", "/fin")
    student.ok("wait", "breve")
    for _ in range(300):
        if 8090 not in student.loop.run(taken()):
            break
        student.loop.run(asyncio.sleep(0.1))
    assert 8090 not in student.loop.run(taken())
    assert student.ok("port", "breve").strip() == ""


COMPOSE_WITH_PORTS = """\
version: "3.8"
services:
  web:
    image: muelle/busybox
    mem_limit: 32m
    command:
      - sh
      - -c
      - mkdir -p /tmp/w && echo desde-compose > /tmp/w/index.html && exec httpd -f -p 80 -h /tmp/w
    ports:
      - "8085:80"
"""


def test_compose_ports_are_published(student: Any, tmp_path: Any) -> None:
    compose = compose_project(tmp_path / "puertos", COMPOSE_WITH_PORTS, student.env())
    up = compose("up", "-d")
    assert up.returncode == 0, up.stderr
    assert "0.0.0.0:8085->80/tcp" in compose("ps").stdout
    assert "desde-compose" in wait_serving(student, 8085)
    down = compose("down", "-v")
    assert down.returncode == 0, down.stderr
    with pytest.raises(NotPublished):
        http_get(student, 8085)
