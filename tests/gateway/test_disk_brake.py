"""The disk limit's last line (sandbox/gateway/disk_use.py, DOCKER_GATEWAY_MIN_FREE_DISK): what
no measure of one student sees still cannot fill the engine's disk. Here the attack the attack
reviews left open: a file written, its descriptor sent over a unix socket and never received,
then closed and deleted. No directory has the file and no process holds it (only the socket's
queue does), so the student's measure finds nothing, while the disk has lost its blocks. Below
the reserve, every student's running containers stop (the descriptor in flight goes with the
last process holding its socket) and writes are refused; with the space back, they are not."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.gateway import disk_host, disk_use, lifecycle
from sandbox.gateway.config import GatewayConfig

from .conftest import IMAGE, MiB
from .project_standin import project_sides
from .test_disk_unseen import (
    PYTHON,
    alive_in,
    gone_in_time,
    measure,
    pass_a_file_into_the_sandbox,
    state,
    wait_for,
)

pytestmark = pytest.mark.docker

HIDDEN = 1536 * MiB  # what the attack hides from every measure
# The reserve is this far under what was free at the start: the hidden file takes the disk well
# under it, and its release well over it, whatever the rest of a test run writes or frees
# meanwhile (much less, in seconds).
MARGIN = 640 * MiB


def free_on_the_engines_disk() -> int:
    root = subprocess.run(
        ["docker", "info", "-f", "{{.DockerRootDir}}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    found = os.statvfs(root)
    return found.f_bavail * found.f_frsize


def braked(gateway_config: GatewayConfig, kept: int) -> GatewayConfig:
    # A student limit the attack never reaches by what is measured.
    config = dataclasses.replace(gateway_config, max_disk=256 * MiB, min_free_disk=kept)
    lifecycle.configure(config)
    return config


@pytest.fixture
def reserve(gateway_config: GatewayConfig) -> Iterator[int]:
    """A reserve MARGIN under what is free now."""
    free = free_on_the_engines_disk()
    if free < HIDDEN + 2 * MARGIN:
        pytest.fail(f"this test needs {(HIDDEN + 2 * MARGIN) // MiB} MiB free on the engine's disk")
    braked(gateway_config, free - MARGIN)
    yield free - MARGIN
    lifecycle.configure(gateway_config)


@pytest.fixture
def full_disk(gateway_config: GatewayConfig) -> Iterator[int]:
    """A reserve the disk cannot meet: it stays under it whatever stops."""
    kept = free_on_the_engines_disk() + 64 * 1024 * MiB
    braked(gateway_config, kept)
    yield kept
    lifecycle.configure(gateway_config)


PROGRAM = (
    "import os, socket, time\n"
    "keep, queue = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
    "fd = os.open('/f', os.O_RDWR | os.O_CREAT, 0o600)\n"
    "chunk = b'x' * (1 << 20)\n"
    f"for _ in range({HIDDEN // MiB}): os.write(fd, chunk)\n"
    "os.fsync(fd)\n"
    "socket.send_fds(keep, [b'x'], [fd])  # in flight in `queue`, never received\n"
    "os.close(fd); os.unlink('/f')\n"
    "open('/hecho', 'w').close(); time.sleep(600)\n"
)


def test_a_file_in_flight_in_a_paused_container_stops_everyone_below_the_reserve_then_not(
    reserve: int, student: Any, other_student: Any
) -> None:
    other_student.ok("run", "-d", "--name", "vecino", IMAGE, "sleep", "600")
    student.ok("run", "-d", "--name", "en-vuelo", PYTHON, "python3", "-c", PROGRAM)
    wait_for(student, "en-vuelo", "/hecho")
    # Paused, its process still holds the socket (and so the file): the brake stops it too.
    student.ok("pause", "en-vuelo")
    # The hole: the disk lost it all, and the student's own measure sees none of it. That
    # measure (the reaper's pass) also found the disk under the reserve.
    assert free_on_the_engines_disk() < reserve
    assert measure(student).used < 16 * MiB
    assert state(student, "en-vuelo") == "exited"
    assert state(other_student, "vecino") == "exited"
    # Its process gone, the socket went and the file with it: the space is back (past the
    # reserve and its hysteresis), and so are the writes, at the next request.
    deadline = time.monotonic() + 60
    while free_on_the_engines_disk() < reserve + disk_use.HYSTERESIS_MAX:
        assert time.monotonic() < deadline, "the space held in flight never came back"
        time.sleep(0.5)
    assert student.ok("run", "--rm", IMAGE, "echo", "libre") == "libre\n"
    other_student.ok("start", "vecino")
    measure(student)
    assert state(other_student, "vecino") == "running"


def test_while_the_disk_stays_under_the_reserve_writes_are_refused_in_spanish(
    full_disk: int, student: Any
) -> None:
    # Each writing request reads the disk itself: refused at once, before any reaper pass.
    assert free_on_the_engines_disk() < full_disk
    refusal = student.refused("run", "-d", "--name", "vecino", IMAGE, "sleep", "600")
    assert "El disco del servidor de Muelle está casi lleno" in refusal
    assert "está casi lleno" in student.refused("volume", "create", "otro")
    assert "está casi lleno" in student.refused("save", "-o", str(student.home / "x.tar"), IMAGE)
    # Reading still works: that is how a student sees what to delete.
    assert student.ok("ps", "-a", "-q") == ""
    assert IMAGE in student.ok("images", "--format", "{{.Repository}}", IMAGE)


@pytest.fixture
def project_of() -> Iterator[Any]:
    yield from project_sides()


def test_below_the_reserve_a_sandbox_process_holding_a_file_on_disk_is_stopped(
    student: Any, project_of: Any
) -> None:
    side = project_of(student, image=PYTHON, as_sandbox=True)
    pass_a_file_into_the_sandbox(student, side, 1)
    # Then the disk goes under a reserve it cannot meet. The gateway keeps the configuration
    # its student was made with (set up without a reserve, or the pass would be refused).
    served = lifecycle.serving(student.folder)
    assert served is not None
    served.student.config = dataclasses.replace(
        served.student.config,
        max_disk=256 * MiB,
        min_free_disk=free_on_the_engines_disk() + 64 * 1024 * MiB,
    )
    # Under the reserve the brake alone (not the measure that follows it in a reaper pass,
    # which would stop the holder too) stops everything that writes: their container, and in
    # their sandbox the holder of the file.
    address = student.loop.run(served.student.engine.address())
    student.loop.run(disk_use._brake([served.student], address))
    assert state(student, "pasador") == "exited"
    assert gone_in_time(side, "tomador")
    assert alive_in(side, "vecino")
    assert side.sh("echo sigo") == "sigo\n"


def test_the_brake_stops_containers_while_a_terminal_waits_for_a_walker_thread(
    student: Any, other_student: Any, project_of: Any, monkeypatch: Any
) -> None:
    # The brake also looks at each student's terminal, in a walker thread, which measures may
    # all be using. One student's terminal waiting for a thread must not hold up the stop of
    # another's containers: here every walker thread is busy and the brake stops one student
    # at a time, the one with a terminal first.
    project_of(student, image=PYTHON, as_sandbox=True)
    other_student.ok("run", "-d", "--name", "vecino", IMAGE, "sleep", "600")
    served = [lifecycle.serving(s.folder) for s in (student, other_student)]
    assert served[0] is not None and served[1] is not None
    under = free_on_the_engines_disk() + 64 * 1024 * MiB
    for one in served:
        one.student.config = dataclasses.replace(
            one.student.config, max_disk=256 * MiB, min_free_disk=under
        )
    students = [one.student for one in served]
    address = student.loop.run(students[0].engine.address())
    monkeypatch.setattr(disk_use, "_BRAKE_STOPS", 1)
    release = threading.Event()
    busy = [disk_host._walkers.submit(release.wait, 120) for _ in range(disk_host.WALKERS)]
    try:
        braking = asyncio.run_coroutine_threadsafe(
            disk_use._brake(students, address), student.loop.loop
        )
        deadline = time.monotonic() + 60
        while state(other_student, "vecino") != "exited":
            assert time.monotonic() < deadline, "the other student's container was not stopped"
            time.sleep(0.2)
        # Still waiting for a walker thread for the first student's terminal.
        assert not braking.done()
    finally:
        release.set()
    braking.result(60)
    assert all(job.result(10) for job in busy)
