"""No engine, no crash: quick Spanish errors, and the health endpoint says 503."""

from __future__ import annotations

import asyncio

import pytest
from django.urls import reverse

from sandbox import engine


@pytest.fixture
def dead_engine(monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:  # noqa: ANN001
    address = f"unix://{tmp_path}/no-hay-docker.sock"
    monkeypatch.setenv("DOCKER_HOST", address)
    return address


async def test_acquire_raises_engine_unavailable_with_a_spanish_fix(dead_engine: str) -> None:
    with pytest.raises(engine.EngineUnavailable) as error:
        await engine.acquire("owner-no-engine")
    message = error.value.message
    assert dead_engine in message
    assert "sudo systemctl start docker" in message
    assert "apt-get install docker.io" in message
    assert "./scripts/serve" in message


async def test_a_silent_engine_is_reported_unavailable_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,  # noqa: ANN001
) -> None:
    # An engine that accepts the connection and never answers (a wedged dockerd): the status
    # must come back "unavailable", which it can only do if every call to it has a timeout.
    accepted: list[asyncio.StreamWriter] = []

    async def never_answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    path = tmp_path / "docker-mudo.sock"
    server = await asyncio.start_unix_server(never_answer, path=str(path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    try:
        # Only a watchdog so a regression fails instead of hanging the suite; not a speed claim.
        status = await asyncio.wait_for(engine.engine_status(), timeout=120)
    finally:
        server.close()
        for writer in accepted:
            writer.close()
    assert accepted, "the status call never reached the engine"
    assert status.available is False


def test_health_is_503_without_an_engine(client, dead_engine: str) -> None:  # noqa: ANN001
    response = client.get(reverse("sandbox:salud"))
    assert response.status_code == 503
    report = response.json()
    assert report["ok"] is False
    assert report["engine"]["available"] is False
    assert "no responde" in report["message"]
    assert dead_engine not in response.content.decode()  # no addresses or paths


@pytest.mark.docker
def test_health_is_200_with_the_engine_and_the_image(client) -> None:  # noqa: ANN001
    response = client.get(reverse("sandbox:salud"))
    assert response.status_code == 200
    report = response.json()
    assert report["ok"] is True
    assert report["engine"]["available"] is True
    assert report["image"] == {"name": "muelle/sandbox:latest", "present": True}
    assert report["sandboxes"]["live"] == 0
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.docker
def test_health_is_503_when_the_course_image_is_missing(client, settings) -> None:  # noqa: ANN001
    settings.SANDBOX_IMAGE = "muelle/no-existe:nunca"
    response = client.get(reverse("sandbox:salud"))
    assert response.status_code == 503
    assert response.json()["image"]["present"] is False
    assert "build_images" in response.json()["message"]


def test_health_only_answers_get(client) -> None:  # noqa: ANN001
    assert client.post(reverse("sandbox:salud")).status_code == 405


def test_a_swarm_node_that_does_not_answer_is_not_named_to_the_student(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The message reaches the student's terminal: a node's address is logged, not shown
    (found by an attack review of the Swarm code)."""
    from sandbox.docker_api.client import client_for

    node = "tcp://127.0.0.1:1"  # nothing listens on port 1: refused at once
    with pytest.raises(engine.EngineUnavailable) as error:
        client_for(node)
    assert "127.0.0.1" not in error.value.message
    assert "uno de los servidores de práctica" in error.value.message
    assert node in caplog.text
