"""Volumes and networks: round trips, names that work, and networks with no way out."""

from __future__ import annotations

import pytest

from .conftest import IMAGE
from .listener import host_listener

pytestmark = pytest.mark.docker


def test_volume_round_trip_keeps_data_between_containers(student):
    assert student.ok("volume", "create", "datos") == "datos\n"
    assert student.ok("volume", "ls", "--format", "{{.Name}} {{.Driver}}") == "datos local\n"
    assert student.ok("volume", "inspect", "--format", "{{.Name}} {{.Labels}}", "datos") == (
        "datos map[]\n"
    )
    student.ok("run", "--rm", "-v", "datos:/datos", IMAGE, "sh", "-c", "echo guardado > /datos/f")
    assert student.ok("run", "--rm", "-v", "datos:/datos:ro", IMAGE, "cat", "/datos/f") == (
        "guardado\n"
    )
    student.ok("volume", "rm", "datos")
    assert student.ok("volume", "ls", "-q") == ""


def test_run_with_a_new_named_volume_creates_it_as_the_students(student):
    student.ok("run", "--rm", "--mount", "type=volume,source=auto,target=/a", IMAGE, "true")
    assert student.ok("volume", "ls", "-q") == "auto\n"
    assert len(student.engine_objects()["volumes"]) == 1


def test_anonymous_volumes_go_with_their_container(student):
    student.ok("run", "-d", "--name", "anon", "-v", "/datos", IMAGE, "sleep", "300")
    assert len(student.ok("volume", "ls", "-q").split()) == 0  # unlabelled: not listed...
    student.ok("rm", "-f", "anon")  # ...and removed with the container (v=1 always)


def test_containers_on_a_network_reach_each_other_by_name(student):
    student.ok("network", "create", "mired")
    assert student.ok("network", "ls", "--format", "{{.Name}} {{.Driver}}") == "mired bridge\n"
    assert student.ok("network", "inspect", "--format", "{{.Internal}}", "mired") == "true\n"
    student.ok(
        "run",
        "-d",
        "--name",
        "servidor",
        "--network",
        "mired",
        IMAGE,
        "sh",
        "-c",
        "echo pong | nc -l -p 7000",
    )
    out = student.ok(
        "run",
        "--rm",
        "--network",
        "mired",
        IMAGE,
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do nc servidor 7000 && break; sleep 0.2; done",
    )
    assert out == "pong\n"


def test_connect_and_disconnect_a_container(student):
    student.ok("network", "create", "otra")
    student.ok("run", "-d", "--name", "caja", IMAGE, "sleep", "300")
    student.ok("network", "connect", "otra", "caja")
    networks = student.ok(
        "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "caja"
    )
    assert networks.split() == ["none", "otra"] or "otra" in networks.split()
    student.ok("network", "disconnect", "otra", "caja")
    student.ok("network", "rm", "otra")
    assert student.ok("network", "ls", "-q") == ""


def test_a_students_network_cannot_reach_the_host(student):
    student.ok("network", "create", "encerrada")
    subnet = student.ok(
        "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", "encerrada"
    ).strip()
    import ipaddress

    gateway = str(next(ipaddress.ip_network(subnet).hosts()))
    with host_listener() as listener:
        result = student.docker(
            "run",
            "--rm",
            "--network",
            "encerrada",
            IMAGE,
            "sh",
            "-c",
            f"nc -w 2 {gateway} {listener.port} </dev/null",
        )
    assert result.returncode != 0
    assert listener.connections == []
