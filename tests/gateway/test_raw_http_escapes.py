"""Escapes found in the prototype, replayed as raw HTTP: each must stay closed."""

from __future__ import annotations

import json

import pytest

from .conftest import IMAGE

pytestmark = pytest.mark.docker


def create(student, body: bytes) -> tuple[int, object]:
    return student.raw("POST", "/v1.41/containers/create", body=body)


def test_lowercase_keys_cannot_smuggle_a_privileged_container(student):
    # Go matches struct keys case-insensitively: this is a privileged, host-PID container to
    # the engine, though body["HostConfig"] is absent for Python.
    body = {"Image": IMAGE, "hostconfig": {"privileged": True, "pidmode": "host"}}
    status, answer = create(student, json.dumps(body).encode())
    assert status == 403
    assert "--pid host no está permitido" in answer["message"]
    body = {"Image": IMAGE, "hostconfig": {"privileged": True}}
    status, answer = create(student, json.dumps(body).encode())
    assert status == 403
    assert "--privileged no está permitido" in answer["message"]
    assert student.engine_objects()["containers"] == []


def test_any_key_spelling_reaches_the_same_rules(student):
    body = {"image": IMAGE, "CMD": ["true"], "HOSTCONFIG": {"BINDS": ["/:/host"]}}
    status, answer = create(student, json.dumps(body).encode())
    assert status == 403
    assert "no se pueden montar carpetas del servidor" in answer["message"]


def test_lowercase_keys_are_understood_and_the_hardening_still_applies(student):
    body = {"image": IMAGE, "cmd": ["true"], "hostconfig": {"memory": 32 * 1024**2}}
    status, answer = create(student, json.dumps(body).encode())
    assert status == 201, answer
    host = student.raw("GET", f"/containers/{answer['Id']}/json")[1]["HostConfig"]
    assert host["Memory"] == 32 * 1024**2
    assert host["CapDrop"] == ["ALL"]
    assert host["Privileged"] is False


def test_two_spellings_of_one_key_are_refused(student):
    body = b'{"Image": "%s", "HostConfig": {"Privileged": false, "privileged": true}}' % (
        IMAGE.encode()
    )
    status, answer = create(student, body)
    assert status == 400
    assert "Clave repetida" in answer["message"]
    assert student.engine_objects()["containers"] == []


def test_non_ascii_keys_are_refused(student):
    # Go folds "ſ" (U+017F) to "s": this key is SecurityOpt to the engine.
    body = {"Image": IMAGE, "HostConfig": {"ſecurityOpt": ["seccomp=unconfined"]}}
    status, answer = create(student, json.dumps(body).encode())
    assert status == 400
    assert "ASCII" in answer["message"]


def test_duplicate_keys_are_refused(student):
    status, answer = create(student, b'{"Image": "%s", "Image": "otra"}' % IMAGE.encode())
    assert status == 400
    assert "Clave repetida" in answer["message"]


def test_old_api_start_with_binds_cannot_mount_the_host(student):
    status, answer = create(student, json.dumps({"Image": IMAGE, "Cmd": ["sleep", "60"]}).encode())
    assert status == 201
    cid = answer["Id"]
    body = json.dumps({"Binds": ["/:/host"], "Privileged": True}).encode()
    status, answer = student.raw("POST", f"/v1.23/containers/{cid}/start", body=body)
    assert status == 400
    assert "versión 1.23 de la API" in answer["message"]
    status, answer = student.raw("POST", f"/v1.41/containers/{cid}/start", body=body)
    assert status == 400
    assert "no admite cuerpo" in answer["message"]
    info = student.raw("GET", f"/containers/{cid}/json")[1]
    assert info["State"]["Status"] == "created"
    assert not info["HostConfig"]["Binds"]
    assert student.raw("POST", f"/v1.41/containers/{cid}/start")[0] == 204


def test_only_supported_api_versions_are_accepted(student):
    assert student.raw("GET", "/v1.39/containers/json")[0] == 400
    assert student.raw("GET", "/v1.40/containers/json")[0] == 200
    assert student.raw("GET", "/containers/json")[0] == 200


def test_refused_create_is_never_a_404(student):
    body = {"Image": IMAGE, "HostConfig": {"NetworkMode": "no-existe"}}
    status, answer = create(student, json.dumps(body).encode())
    assert status == 400
    assert "No existe la red" in answer["message"]


def test_unknown_endpoints_are_refused_and_plugin_probes_are_not_found(student):
    status, answer = student.raw("POST", "/v1.41/swarm/init", body=b"{}")
    assert status == 403
    assert "Swarm" in answer["message"]
    assert student.raw("GET", "/v1.41/plugins/web/json")[0] == 404
    status, answer = student.raw("POST", "/v1.41/session")
    assert status == 403
    assert "BuildKit no está disponible" in answer["message"]


def test_ambiguous_http_framing_is_refused(student):
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(student.socket))
        sock.sendall(
            b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400")
    assert student.engine_objects()["containers"] == []


def test_a_lone_surrogate_escape_is_refused_before_the_engine(student):
    # Python keeps "\ud800" and would encode it back; Go reads U+FFFD: two readings.
    status, answer = create(
        student, b'{"Image": "%s", "Cmd": ["echo", "\\ud800"]}' % IMAGE.encode()
    )
    assert status == 400
    assert "JSON" in answer["message"]
    assert student.engine_objects()["containers"] == []


def test_booleans_are_read_as_the_engine_reads_them(student):
    status, answer = create(student, json.dumps({"Image": IMAGE, "Cmd": ["true"]}).encode())
    assert status == 201
    # "\x1cfalse" is true for the engine (Go's TrimSpace keeps U+001C); Python's strip() made it
    # "false". `all` true lists the stopped container.
    status, listed = student.raw("GET", "/v1.41/containers/json?all=%1Cfalse")
    assert status == 200
    assert [c["Id"] for c in listed] == [answer["Id"]]
    status, listed = student.raw("GET", "/v1.41/containers/json?all=%20FALSE%E3%80%80")
    assert status == 200
    assert listed == []


def test_host_settings_at_the_top_level_of_a_create_do_not_reach_the_engine(student):
    # The engine's ContainerConfigWrapper embeds a deprecated *HostConfig at the top level and
    # uses it when there is no inner one (and merges Memory, CpusetCpus... from it): the
    # gateway's schema has no such fields, so they are dropped, and its own HostConfig is sent.
    body = {
        "Image": IMAGE,
        "Cmd": ["true"],
        "Privileged": True,
        "Binds": ["/:/host"],
        "PidMode": "host",
        "Memory": 4 * 1024**3,
        "Cpuset": "0",
        "CapAdd": ["SYS_ADMIN"],
    }
    status, answer = create(student, json.dumps(body).encode())
    assert status == 201, answer
    host = student.raw("GET", f"/v1.41/containers/{answer['Id']}/json")[1]["HostConfig"]
    assert host["Privileged"] is False
    assert not host.get("Binds")
    assert host["PidMode"] == ""
    assert host["Memory"] == student.config.container_memory
    assert host["CpusetCpus"] == ""
    assert "SYS_ADMIN" not in (host["CapAdd"] or [])
