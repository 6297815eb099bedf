"""Smoke check through a student's gateway, with the real Docker CLI: the real names resolve to
the course's images and the servers work under the hardening and the default limits the gateway
imposes (capabilities dropped to its allowlist, no-new-privileges, 128 MiB, 64 pids)."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytestmark = pytest.mark.docker
READY_TIMEOUT = 180.0


def until(student: Any, *args: str) -> str:
    deadline = time.monotonic() + READY_TIMEOUT
    result = student.docker(*args)
    while result.returncode != 0:
        assert time.monotonic() < deadline, (args, result.stdout, result.stderr)
        time.sleep(1)
        result = student.docker(*args)
    return result.stdout


def test_nginx_by_its_plain_name_answers_another_container(student, images) -> None:  # noqa: ANN001
    student.ok("network", "create", "red")
    student.ok("run", "-d", "--network", "red", "--name", "web", "nginx")
    page = until(
        student, "run", "--rm", "--network", "red", "busybox", "wget", "-qO-", "http://web/"
    )
    assert "Welcome to nginx!" in page
    assert "Welcome to nginx!" not in student.ok("logs", "web")  # logs show requests, not pages
    assert "GET / HTTP/1.1" in student.ok("logs", "web")


def test_mariadb_initialises_and_answers_within_the_default_limits(student, images) -> None:  # noqa: ANN001
    student.ok("network", "create", "red")
    student.ok(
        "run", "-d", "--network", "red", "--name", "db",
        "-e", "MARIADB_ROOT_PASSWORD=raiz", "-e", "MARIADB_DATABASE=tienda",
        "-e", "MARIADB_USER=ana", "-e", "MARIADB_PASSWORD=clave",
        "mariadb:10.11",
    )  # fmt: skip
    out = until(
        student, "run", "--rm", "--network", "red", "mariadb:10.11",
        "mariadb", "-h", "db", "-u", "ana", "-pclave", "-N", "-e", "SELECT DATABASE()", "tienda",
    )  # fmt: skip
    assert out.split() == ["tienda"]
    state = student.ok("inspect", "-f", "{{.State.Running}} {{.State.OOMKilled}}", "db")
    assert state.split() == ["true", "false"]


def test_postgres_and_redis_answer_within_the_default_limits(student, images) -> None:  # noqa: ANN001
    student.ok("network", "create", "red")
    student.ok(
        "run", "-d", "--network", "red", "--name", "pg", "-e", "POSTGRES_PASSWORD=clave",
        "postgres:15",
    )  # fmt: skip
    student.ok("run", "-d", "--network", "red", "--name", "cache", "redis")
    out = until(
        student, "run", "--rm", "--network", "red", "-e", "PGPASSWORD=clave", "postgres:15",
        "psql", "-h", "pg", "-U", "postgres", "-tAc", "SELECT 40 + 2",
    )  # fmt: skip
    assert out.strip() == "42"
    assert until(student, "exec", "cache", "redis-cli", "ping").strip() == "PONG"
    for name in ("pg", "cache"):
        state = student.ok("inspect", "-f", "{{.State.Running}} {{.State.OOMKilled}}", name)
        assert state.split() == ["true", "false"]


def test_a_dockerfile_from_python_slim_builds_and_runs(student, images, tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "Dockerfile").write_text(
        'FROM python:3.11-slim\nCOPY app.py /app.py\nCMD ["python", "/app.py"]\n'
    )
    (tmp_path / "app.py").write_text("import sys; print('hola', sys.version_info[:2])\n")
    student.ok("build", "-t", "miapp", str(tmp_path), timeout=300)
    assert student.ok("run", "--rm", "miapp").strip() == "hola (3, 11)"


def test_the_student_sees_that_the_image_is_a_stand_in(student, images) -> None:  # noqa: ANN001
    labels = student.ok("image", "inspect", "-f", "{{json .Config.Labels}}", "nginx")
    assert "built offline by Muelle from Debian bookworm packages" in labels
    listed = student.ok("images", "--format", "{{.Repository}}:{{.Tag}}")
    for name in ("nginx:latest", "mariadb:10.11", "python:3.11-slim", "busybox:latest"):
        assert name in listed.split()


def test_a_students_tag_on_a_stand_in_stays_theirs(student, other_student, images) -> None:  # noqa: ANN001
    student.ok("tag", "nginx", "miweb:1")
    assert "miweb:1" in student.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split()
    seen = other_student.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert "nginx:latest" in seen
    assert not any("miweb" in name for name in seen)
    tags = other_student.ok("image", "inspect", "-f", "{{json .RepoTags}}", "nginx")
    assert "miweb" not in tags and "nginx:1.22" in tags


def test_a_student_cannot_remove_or_prune_a_stand_in(student, images) -> None:  # noqa: ANN001
    before = student.ok("image", "inspect", "-f", "{{.Id}}", "nginx:1.22").strip()
    student.refused("rmi", "nginx:1.22")
    student.docker("rmi", "-f", "nginx")
    student.docker("image", "prune", "-a", "-f")
    assert student.ok("image", "inspect", "-f", "{{.Id}}", "nginx:1.22").strip() == before
    assert "nginx:latest" in student.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split()
