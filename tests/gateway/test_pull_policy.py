"""Pulls are requests the engine makes from the host's network: only Docker Hub, only the
allowlist; `docker pull 127.0.0.1:PORT/x` must never reach a host service."""

from __future__ import annotations

import pytest

from .listener import host_listener

pytestmark = pytest.mark.docker


def test_pull_from_a_host_service_is_refused_before_the_engine_sees_it(student):
    with host_listener("127.0.0.1") as listener:
        error = student.refused("pull", f"127.0.0.1:{listener.port}/secreto")
    assert "nunca de otros registros" in error
    assert listener.connections == []


def test_pull_outside_the_allowlist_is_refused(student):
    error = student.refused("pull", "nginx")
    assert "No se puede descargar «nginx:latest»" in error
    assert "hello-world" in error
    # By digest, even of an allowed image: it would come untagged, invisible to its student
    # and outside every quota and clean-up (a review: the allowlist saw no digest).
    for name in ("hello-world", "library/hello-world", "docker.io/hello-world"):
        error = student.refused("pull", f"{name}@sha256:{'a' * 64}")
        assert "Descarga una etiqueta, no un digest: docker pull hello-world:…" in error, error


def test_running_a_missing_image_explains_why_it_cannot_be_pulled(student):
    error = student.refused("run", "--rm", "no-existe-en-muelle", "true")
    assert "Unable to find image" in error
    assert "No se puede descargar" in error
    assert student.engine_objects()["containers"] == []


def test_import_from_a_url_is_refused(student):
    with host_listener("127.0.0.1") as listener:
        error = student.refused("import", f"http://127.0.0.1:{listener.port}/x.tar", "robada")
    assert "desde una URL no está disponible" in error
    assert listener.connections == []
