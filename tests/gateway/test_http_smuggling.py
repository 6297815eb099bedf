"""HTTP framing read two ways: the gateway splits a head on CRLF, Go's server (the engine) also
ends a line at a bare LF. A value the gateway copies into its own request to the engine (the
User-Agent) or a path parameter it writes back into a path must never let a student write a
second request of their own on the engine's connection."""

from __future__ import annotations

import json
import socket
import subprocess
import uuid

import pytest

from .conftest import IMAGE
from .listener import host_listener

pytestmark = pytest.mark.docker


def engine_container_exists(name: str) -> bool:
    """Asks the real engine directly (not through any gateway)."""
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"name=^/{name}$"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DOCKER_HOST": "unix:///var/run/docker.sock"},
        check=True,
    ).stdout.strip()
    if out:
        subprocess.run(["docker", "rm", "-f", out], capture_output=True, check=False)
    return bool(out)


def smuggled_create(name: str) -> bytes:
    body = json.dumps({"Image": IMAGE, "HostConfig": {"Privileged": True}}).encode()
    return (
        b"POST /v1.41/containers/create?name=%s HTTP/1.1\nHost: docker\n"
        b"Content-Type: application/json\nContent-Length: %d\n\n%s"
        % (name.encode(), len(body), body)
    )


def exchange(path, raw: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall(raw)
        out = b""
        while data := sock.recv(65536):
            out += data
        return out


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_a_bare_lf_in_a_header_cannot_smuggle_a_request_to_the_engine(student):
    name = f"smuggled-{uuid.uuid4().hex[:8]}"
    answer = exchange(
        student.socket,
        b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n"
        b"User-Agent: x\n\n" + smuggled_create(name) + b"\r\n\r\n",
    )
    assert status_of(answer) == 400
    assert "Petición HTTP no válida" in answer.decode()
    assert not engine_container_exists(name)


@pytest.mark.parametrize("byte", [b"\n", b"\r", b"\x00", b"\x0b", b"\x7f"])
def test_control_characters_in_a_head_are_refused(student, byte):
    answer = exchange(
        student.socket,
        b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nUser-Agent: a"
        + byte
        + b"b\r\n\r\n",
    )
    assert status_of(answer) == 400
    assert "Petición HTTP no válida" in answer.decode()  # the gateway's, not the engine's


def test_a_percent_encoded_crlf_in_a_path_cannot_smuggle_a_request(student):
    # The path is percent-decoded to route it; names may hold slashes (images, volumes), so
    # a decoded CR LF must never reach the engine's request line as it is.
    name = f"smuggled-{uuid.uuid4().hex[:8]}"
    smuggled = b"x HTTP/1.1\r\nHost: docker\r\n\r\n" + smuggled_create(name).replace(b"\n", b"\r\n")
    quoted = "".join(f"%{b:02X}" for b in smuggled)
    for path in (f"/v1.41/volumes/{quoted}", f"/v1.41/images/{quoted}/json"):
        answer = exchange(
            student.socket,
            f"GET {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode(),
        )
        assert status_of(answer) in (400, 403, 404), answer[:200]
    assert not engine_container_exists(name)


COURSE_LABEL = '{{index .Config.Labels "muelle.course"}}'


def course_label(image: str) -> str:
    return subprocess.run(
        ["docker", "image", "inspect", "--format", COURSE_LABEL, image],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DOCKER_HOST": "unix:///var/run/docker.sock"},
        check=True,
    ).stdout.strip()


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "Application/X-WWW-Form-URLEncoded; charset=utf-8"],
)
def test_a_form_body_cannot_override_the_gateways_query(student, content_type):
    # Go's ParseForm reads an application/x-www-form-urlencoded body of a POST into the same
    # values as the query, body first: `docker import` with such a body made the engine fetch
    # `fromSrc` from a URL on the server's loopback, and tag the result with any `repo`.
    with host_listener("127.0.0.1") as listener:
        form = f"fromSrc=http://127.0.0.1:{listener.port}/x&repo=muelle/hola".encode()
        status, answer = student.raw(
            "POST",
            "/v1.41/images/create?fromSrc=-&repo=importada",
            body=form,
            headers={"Content-Type": content_type},
        )
        assert listener.connections == []
    assert status == 400
    assert "formulario" in answer["message"]
    assert course_label("muelle/hola") == "1"
    assert student.engine_objects()["images"] == []
