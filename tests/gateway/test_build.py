"""docker build: classic builder only, no network in any step, limits, checked Dockerfile."""

from __future__ import annotations

import ipaddress

import pytest

from sandbox.gateway.upstream import Upstream

from .conftest import DOCKER_NEW, IMAGE
from .listener import host_listener

pytestmark = pytest.mark.docker


def write(folder, dockerfile: str, **files: str):
    (folder / "Dockerfile").write_text(dockerfile)
    for name, content in files.items():
        (folder / name).write_text(content)
    return str(folder)


def test_build_tag_run_and_remove_round_trip(student, tmp_path):
    context = write(
        tmp_path,
        f'FROM {IMAGE}\nCOPY saludo.txt /\nCMD ["cat", "/saludo.txt"]\n',
        **{"saludo.txt": "hola desde mi imagen\n"},
    )
    out = student.ok("build", "-t", "miapp:1.0", context)
    assert "Successfully tagged miapp:1.0" in out
    assert student.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "miapp") == "miapp:1.0\n"
    assert student.ok("run", "--rm", "miapp:1.0") == "hola desde mi imagen\n"
    (tmp_path / "Dockerfile").write_text("FROM miapp:1.0\nRUN cat /saludo.txt\n")
    assert "hola desde mi imagen" in student.ok("build", "-t", "hija", context)
    student.ok("rmi", "hija", "miapp:1.0")
    assert student.engine_objects()["images"] == []


@pytest.mark.parametrize("size", [300_000, 3_000_000])  # longer than a read; than the line cap
def test_a_long_output_line_comes_through_whole(student, tmp_path, size):
    # The gateway rewrites the build's JSON lines one by one; a line longer than one read (or a
    # read that catches part of a chunk, common under load) used to lose its first part, and the
    # CLI then choked on half a JSON message.
    context = write(tmp_path, f"FROM {IMAGE}\nRUN head -c {size} /dev/zero | tr '\\0' a\n")
    out = student.ok("build", "-t", "larga", context)
    assert "a" * size in out
    assert "a" * (size + 1) not in out
    student.ok("rmi", "larga")


def test_the_current_cli_builds_with_the_classic_builder(student, tmp_path):
    context = write(tmp_path, f"FROM {IMAGE}\nRUN echo paso\n")
    result = student.docker("build", "-t", "nueva", context, binary=DOCKER_NEW)
    assert result.returncode == 0, result.stderr
    assert "paso" in result.stdout


def test_a_build_step_has_no_network(student, tmp_path, gateway_loop, gateway_config):
    bridge = gateway_loop.run(
        Upstream(gateway_config.engine_socket).json("GET", "/networks/bridge")
    )
    subnet = bridge["IPAM"]["Config"][0]["Subnet"]
    gateway = str(next(ipaddress.ip_network(subnet).hosts()))  # the host, on docker0
    with host_listener() as listener:
        context = write(
            tmp_path,
            f"FROM {IMAGE}\n"
            f"RUN echo marca-red-7f3a && nc -w 2 {gateway} {listener.port} </dev/null\n",
        )
        result = student.docker("build", context)
    assert result.returncode != 0
    assert listener.connections == []
    assert "marca-red-7f3a" in result.stdout
    containers = gateway_loop.run(
        Upstream(gateway_config.engine_socket).json("GET", "/containers/json", query={"all": "1"})
    )
    assert not any("marca-red-7f3a" in c.get("Command", "") for c in containers)  # forcerm


def test_from_another_registry_is_refused_before_any_pull(student, tmp_path):
    with host_listener("127.0.0.1") as listener:
        context = write(tmp_path, f"FROM 127.0.0.1:{listener.port}/base\nRUN true\n")
        error = student.refused("build", context)
        (tmp_path / "Dockerfile").write_text(
            f"FROM {IMAGE}\nCOPY --from=127.0.0.1:{listener.port}/x /a /a\n"
        )
        error_copy = student.refused("build", context)
    assert "Dockerfile, línea 1" in error and "no está en Muelle" in error
    assert "Dockerfile, línea 2" in error_copy
    assert listener.connections == []


def test_add_from_a_url_is_refused(student, tmp_path):
    with host_listener("127.0.0.1") as listener:
        context = write(
            tmp_path,
            f"FROM {IMAGE}\n# nota\nADD \\\n  http://127.0.0.1:{listener.port}/secreto /s\n",
        )
        error = student.refused("build", context)
    assert "Dockerfile, línea 3" in error
    assert "ADD solo copia ficheros del contexto" in error
    assert listener.connections == []


def test_from_with_a_variable_is_refused(student, tmp_path):
    context = write(tmp_path, "ARG BASE=127.0.0.1:5000/x\nFROM $BASE\n")
    assert "sin variables" in student.refused("build", context)


def test_buildkit_is_refused_with_an_explanation(student, tmp_path):
    context = write(tmp_path, f"FROM {IMAGE}\n")
    error = student.refused("build", context, env={"DOCKER_BUILDKIT": "1"})
    assert "BuildKit no está disponible en Muelle" in error


def test_build_steps_are_held_to_the_pids_limit(student, tmp_path):
    context = write(tmp_path, f"FROM {IMAGE}\nRUN for i in $(seq 100); do sleep 2 & done; wait\n")
    result = student.docker("build", context)
    assert "can't fork" in result.stdout + result.stderr


def test_the_build_network_option_is_refused(student, tmp_path):
    context = write(tmp_path, f"FROM {IMAGE}\n")
    assert "no tienen red" in student.refused("build", "--network", "host", context)
