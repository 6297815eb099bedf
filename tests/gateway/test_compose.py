"""docker-compose 1.29 (docker-py) through the gateway: up, ps, logs, exec, down -v."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.compose_project import COMPOSE, compose_project

pytestmark = pytest.mark.docker


@pytest.fixture(autouse=True)
def _docker_compose_on_the_host() -> None:
    # A failure, not a skip: without the client this test would prove nothing in silence.
    # scripts/test installs it; tests/sandbox runs the same project from a student's sandbox.
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is not installed (Debian package docker-compose)")


def test_compose_project_round_trip(student, tmp_path):
    compose = compose_project(tmp_path / "proyecto", COMPOSE, student.env())
    up = compose("up", "-d")
    assert up.returncode == 0, up.stderr
    assert "proyecto_web_1" in compose("ps").stdout
    # `init: true` reaches the engine (lesson 12 relies on it for a quick «down»).
    init = subprocess.run(
        ["docker", "inspect", "-f", "{{.HostConfig.Init}}", "proyecto_web_1"],
        env=student.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert init.stdout.strip() == "true", (init.stdout, init.stderr)
    page = compose(
        "exec",
        "-T",
        "cliente",
        "sh",
        "-c",
        "until [ -s /tmp/pagina ]; do sleep 0.2; done; cat /tmp/pagina",
    )
    assert "¡Funciona!" in page.stdout
    assert compose("logs", "web").returncode == 0
    down = compose("down", "-v")
    assert down.returncode == 0, down.stderr
    assert not any(student.engine_objects().values())
