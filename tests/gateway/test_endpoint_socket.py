"""The per-student endpoint: a socket in a folder only the student's sandbox mounts, usable
from inside a locked-down container as the sandbox user, and surviving a gateway restart."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import uuid

import pytest

from sandbox.gateway import lifecycle

pytestmark = pytest.mark.docker

STATIC_CLI = "/usr/local/bin/docker"  # statically linked: runs inside a BusyBox container


def sandbox_args(folder, user: str = "1000:1000") -> list[str]:
    """A container shaped like a sandbox (created on the engine directly, as sandbox/engine.py
    does), with the student's gateway folder mounted read-only."""
    return [
        "--user",
        user,
        "--network",
        "none",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--tmpfs",
        "/tmp:uid=1000,gid=1000",  # noqa: S108
        "-e",
        "HOME=/tmp",
        "-v",
        f"{folder}:/run/muelle:ro",
        "-v",
        f"{STATIC_CLI}:/usr/bin/docker:ro",
        "-e",
        "DOCKER_HOST=unix:///run/muelle/docker.sock",
    ]


def engine(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DOCKER_HOST": ""},
    )


def sandbox_like(folder, *command: str, user: str = "1000:1000") -> subprocess.CompletedProcess:
    name = f"muelle-gw-test-{uuid.uuid4().hex[:8]}"
    return engine(
        "run", "--rm", "--name", name, *sandbox_args(folder, user), "muelle/busybox", *command
    )


def test_socket_belongs_to_the_sandbox_user_and_the_folder_is_per_student(student, other_student):
    info = student.socket.stat()
    assert stat.S_ISSOCK(info.st_mode)
    assert (info.st_uid, info.st_gid) == (1000, 1000)
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert student.folder != other_student.folder
    assert list(student.folder.iterdir()) == [student.socket]


def test_opening_twice_gives_the_same_folder(student):
    assert student.loop.run(lifecycle.open_gateway(student.owner)) == student.folder


def test_the_sandbox_user_drives_docker_through_the_mounted_folder(student):
    result = sandbox_like(student.folder, "docker", "run", "--rm", "muelle/hola")
    assert result.returncode == 0, result.stderr
    assert "¡Hola desde Muelle!" in result.stdout
    assert "docker.sock" not in sandbox_like(student.folder, "ls", "/var/run").stdout


def test_another_uid_in_the_container_cannot_connect(student):
    result = sandbox_like(student.folder, "docker", "ps", user="1001:1001")
    assert result.returncode != 0
    assert "permission denied" in result.stderr


def test_a_gateway_restart_keeps_the_mounted_folder_working(student):
    name = f"muelle-gw-test-{uuid.uuid4().hex[:8]}"
    assert (
        engine(
            "run",
            "-d",
            "--name",
            name,
            *sandbox_args(student.folder),
            "muelle/busybox",
            "sleep",
            "300",
        ).returncode
        == 0
    )
    try:
        assert engine("exec", name, "docker", "ps").returncode == 0
        student.loop.run(lifecycle.close_gateway(student.owner, cleanup=False))
        assert engine("exec", name, "docker", "ps").returncode != 0
        assert student.loop.run(lifecycle.open_gateway(student.owner)) == student.folder
        result = engine("exec", name, "docker", "run", "--rm", "muelle/hola")
        assert result.returncode == 0, result.stderr
        assert "¡Hola desde Muelle!" in result.stdout
    finally:
        engine("rm", "-f", name)


def test_a_pooled_container_gets_its_student_after_it_started(gateway_loop):
    folder = gateway_loop.run(_reserve())
    name = f"muelle-gw-test-{uuid.uuid4().hex[:8]}"
    assert (
        engine(
            "run", "-d", "--name", name, *sandbox_args(folder), "muelle/busybox", "sleep", "300"
        ).returncode
        == 0
    )
    owner = uuid.uuid4().hex
    try:
        assert engine("exec", name, "docker", "ps").returncode != 0  # nobody served yet
        assert gateway_loop.run(lifecycle.open_gateway(owner, folder=folder)) == folder
        result = engine("exec", name, "docker", "run", "--name", "tardio", "muelle/hola")
        assert result.returncode == 0, result.stderr
    finally:
        engine("rm", "-f", name)
        gateway_loop.run(lifecycle.close_gateway(owner))
    assert not folder.exists()


async def _reserve():
    return lifecycle.reserve_folder()


def test_a_stale_socket_is_replaced_in_one_step(student):
    # A crash leaves the socket file behind; the next start renames its own, ready socket
    # (owner and mode already set) over it: no moment without a socket, or with a wrong owner.
    student.loop.run(lifecycle.close_gateway(student.owner, cleanup=False))
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(student.socket))
    stale.close()
    inode = student.socket.stat().st_ino
    assert student.loop.run(lifecycle.open_gateway(student.owner)) == student.folder
    info = student.socket.stat()
    assert info.st_ino != inode
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert list(student.folder.iterdir()) == [student.socket]
    assert student.ok("version", "--format", "{{.Server.APIVersion}}").strip() == "1.41"


def test_the_removal_of_an_old_sandbox_never_takes_the_students_own_folder(gateway_loop):
    """A sandbox's removal runs in the background and then discards its gateway folder when it
    was a reserved one. A student's own folder is every sandbox of theirs: taken while their
    next sandbox's gateway was opening in it, the socket's bind failed («Algo ha fallado al
    abrir tu terminal», seen once in CI after `exit` and «Ejecutar»)."""
    owner = uuid.uuid4().hex
    own = lifecycle.socket_dir(owner)
    own.mkdir(parents=True)  # as open_gateway prepares it, before it serves it
    try:
        lifecycle.discard_folder(own.name)
        assert own.is_dir()
        assert gateway_loop.run(lifecycle.open_gateway(owner)) == own
    finally:
        gateway_loop.run(lifecycle.close_gateway(owner))
    assert not own.exists()
    # A reserved folder nobody was served in still goes.
    reserved = gateway_loop.run(_reserve())
    lifecycle.discard_folder(reserved.name)
    assert not reserved.exists()
