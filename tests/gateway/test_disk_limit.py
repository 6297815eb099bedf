"""DOCKER_GATEWAY_MAX_DISK (sandbox/gateway/disk_use.py), against the real engine: what a
student's containers write, their volumes and their images are measured; past the limit their
running containers are stopped and whatever would write more is refused, until they delete."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.course_images import build_course_images
from sandbox.gateway import lifecycle
from sandbox.gateway.config import GatewayConfig

from .conftest import IMAGE, MiB

pytestmark = pytest.mark.docker

LIMIT = 24 * MiB
BIG_BASE = "muelle/debian:bookworm"
WRITE_30_MIB = "dd if=/dev/zero of={} bs=1M count=30 2>/dev/null"
WRITE_15_MIB = "dd if=/dev/zero of={} bs=1M count=15 2>/dev/null"


@pytest.fixture
def small_disk(gateway_config: GatewayConfig) -> Iterator[GatewayConfig]:
    config = dataclasses.replace(gateway_config, max_disk=LIMIT)
    lifecycle.configure(config)
    yield config
    lifecycle.configure(gateway_config)


def measure(*students: Any) -> list[int]:
    """What the reaper does at each heartbeat, until it measured each of `students` with a
    measure started after this call (other test processes share the engine, Docker 20.10
    refuses a second `system df` at a time, and the reaper may use one that ended since its
    last pass); the bytes each one uses."""
    asked = time.monotonic()  # the gateway's loop runs in this process: the same clock
    for _attempt in range(20):
        measured = students[0].loop.run(lifecycle.enforce_disk_limit())
        fresh = [measured.get(student.owner) for student in students]
        if all(m is not None and m.started >= asked for m in fresh):
            return [m.used for m in fresh if m is not None]
    raise AssertionError(f"not measured: {measured}")


def state(student: Any, container: str) -> str:
    return student.ok("inspect", "-f", "{{.State.Status}}", container).strip()


def used_mib(refusal: str) -> int:
    found = re.search(r"ocupan (\d+) MiB del disco del servidor, más de los 24 MiB", refusal)
    assert found, refusal
    return int(found.group(1))


def wait_for_file(student: Any, container: str, path: str, size: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        out = student.docker("exec", container, "sh", "-c", f"wc -c < {path}").stdout.strip()
        if out == str(size):
            return
        time.sleep(0.2)
    raise AssertionError(f"{path} never reached {size} bytes in {container}")


def test_a_container_that_writes_past_the_limit_is_stopped_and_writes_are_refused_until_it_goes(
    small_disk: GatewayConfig, student: Any, other_student: Any
) -> None:
    student.ok("run", "-d", "--name", "llena", IMAGE, "sh", "-c",
               WRITE_30_MIB.format("/relleno") + " && exec sleep 600")  # fmt: skip
    other_student.ok("run", "-d", "--name", "tranquilo", IMAGE, "sleep", "600")
    wait_for_file(student, "llena", "/relleno", 30 * MiB)

    used, other_used = measure(student, other_student)

    assert used > LIMIT >= other_used
    assert state(student, "llena") == "exited"
    assert state(other_student, "tranquilo") == "running"
    # Whatever would write more is refused, saying how much is used and what to delete.
    refusal = student.refused("run", "--rm", IMAGE, "true")
    assert 30 <= used_mib(refusal) < 32
    assert "docker rm" in refusal and "docker volume rm" in refusal and "docker rmi" in refusal
    for attempt in (
        ("start", "llena"),
        ("create", "--name", "otro", IMAGE, "true"),
        ("volume", "create", "mas"),
        ("restart", "llena"),
    ):
        used_mib(student.refused(*attempt))
    # Reading and deleting still work; the other student was never touched.
    assert "llena" in student.ok("ps", "-a", "--format", "{{.Names}}")
    assert other_student.ok("run", "--rm", IMAGE, "echo", "sigo") == "sigo\n"
    student.ok("rm", "llena")
    # Deleting is enough: the next request measures again at once.
    assert student.ok("run", "--rm", IMAGE, "echo", "otra vez") == "otra vez\n"
    assert measure(student) < [LIMIT]


def test_a_container_in_a_restart_loop_is_stopped_too(
    small_disk: GatewayConfig, student: Any
) -> None:
    # It writes once and exits at once, again and again: the engine waits longer before each
    # restart (100 ms, doubling), so it is mostly `restarting`, not `running`, when measured.
    student.ok("run", "-d", "--restart", "always", "--name", "vuelve", IMAGE, "sh", "-c",
               "test -f /relleno || " + WRITE_30_MIB.format("/relleno") + "; exit 1")  # fmt: skip
    deadline = time.monotonic() + 60
    fmt = "{{.State.Status}} {{.RestartCount}}"
    while time.monotonic() < deadline:
        status, count = student.ok("inspect", "-f", fmt, "vuelve").split()
        if status == "restarting" and int(count) >= 4:
            break
        time.sleep(0.2)
    assert measure(student) > [LIMIT]
    stopped = student.ok("inspect", "-f", fmt, "vuelve").split()
    assert stopped[0] == "exited"
    # Left alone, it would have come back within 1.6 s: it stays down.
    time.sleep(2.5)
    assert student.ok("inspect", "-f", fmt, "vuelve").split() == stopped


def test_a_volume_counts_after_its_container_is_gone_until_the_volume_is_removed(
    small_disk: GatewayConfig, student: Any
) -> None:
    student.ok("run", "--rm", "-v", "datos:/datos", IMAGE, "sh", "-c",
               WRITE_30_MIB.format("/datos/relleno"))  # fmt: skip
    assert measure(student) > [LIMIT]
    assert 30 <= used_mib(student.refused("run", "--rm", IMAGE, "true")) < 32
    student.ok("volume", "rm", "datos")
    assert student.ok("run", "--rm", IMAGE, "echo", "libre") == "libre\n"


def test_an_image_the_student_built_counts_by_its_own_layers_only(
    small_disk: GatewayConfig, student: Any, tmp_path: Any
) -> None:
    # A base of about 120 MB, so that counting it would show: built once, then up to date.
    build_course_images(lambda _msg: None, only=["muelle/debian"])
    context = tmp_path / "contexto"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {BIG_BASE}\nRUN {WRITE_30_MIB.format('/relleno')}\n")
    student.ok("build", "-q", "-t", "gorda", str(context), timeout=180)
    assert measure(student) > [LIMIT]
    # The base image (shared with everybody) is not the student's: only the 30 MiB layer of
    # their own build counts.
    assert 30 <= used_mib(student.refused("build", "-q", "-t", "otra", str(context))) < 32
    student.ok("rmi", "gorda")
    assert measure(student) < [LIMIT]
    assert student.ok("run", "--rm", IMAGE, "echo", "libre") == "libre\n"


def test_images_built_on_each_other_count_each_of_their_layers_once(
    small_disk: GatewayConfig, student: Any, tmp_path: Any
) -> None:
    # «encima» is built on «base» and shares its 15 MiB layer. The engine's SharedSize counts a
    # layer shared with any image, the student's own too, so that layer must not count nowhere
    # (15 MiB, under the limit); nor twice, once in each image (45 MiB).
    for name, base in (("base", IMAGE), ("encima", "base")):
        context = tmp_path / name
        context.mkdir()
        write = WRITE_15_MIB.format(f"/capa-{name}")
        (context / "Dockerfile").write_text(f"FROM {base}\nRUN {write}\n")
        student.ok("build", "-q", "-t", name, str(context), timeout=180)
    (used,) = measure(student)
    assert used > LIMIT  # 15 MiB in each of two layers
    assert 30 <= used_mib(student.refused("run", "--rm", IMAGE, "true")) < 32


def test_container_prune_takes_the_pruned_containers_anonymous_volumes_along(
    small_disk: GatewayConfig, student: Any
) -> None:
    # The engine's own prune keeps them: unlabelled, they escaped the measure and every
    # clean-up, and pruning again and again filled the disk unseen.
    student.ok("run", "--name", "anonimo", "-v", "/datos", IMAGE, "sh", "-c",
               WRITE_30_MIB.format("/datos/relleno"))  # fmt: skip
    student.ok("run", "-d", "--name", "sigue", "-v", "/otros", IMAGE, "sleep", "600")
    volume = student.ok("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "anonimo").strip()
    kept = student.ok("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "sigue").strip()
    assert len(volume) == 64 and len(kept) == 64

    student.ok("container", "prune", "-f")
    assert student.ok("ps", "-a", "--format", "{{.Names}}").split() == ["sigue"]
    on_engine = subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True)
    assert volume not in on_engine.stdout.split()
    assert kept in on_engine.stdout.split()  # the running container's stays
