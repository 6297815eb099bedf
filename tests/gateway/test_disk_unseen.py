"""What the engine's own accounting (`GET /system/df`, apparent sizes) never saw, found by an
attack review and now counted on the server's filesystem (sandbox/gateway/disk_host.py): a file
deleted while held open, blocks allocated without a size, inodes taken by empty files (in a
container and in an image), and a walk that a link must not lead out of."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.course_images import build_course_images
from sandbox.gateway import lifecycle
from sandbox.gateway.config import GatewayConfig
from sandbox.gateway.disk_use import Measure

from .conftest import IMAGE, MiB
from .project_standin import DOCKER, SANDBOX_USER, ProjectSide, project_sides

pytestmark = pytest.mark.docker

LIMIT = 24 * MiB
MAX_FILES = 2000
DEBIAN = "muelle/debian:bookworm"
PYTHON = "python:3.11-slim"


@pytest.fixture
def small_disk(gateway_config: GatewayConfig) -> Iterator[GatewayConfig]:
    config = dataclasses.replace(gateway_config, max_disk=LIMIT, max_files=MAX_FILES)
    lifecycle.configure(config)
    yield config
    lifecycle.configure(gateway_config)


def measure(student: Any) -> Measure:
    """What the reaper does at each heartbeat, until a measure started after this call."""
    asked = time.monotonic()
    for _attempt in range(20):
        found = student.loop.run(lifecycle.enforce_disk_limit()).get(student.owner)
        if found is not None and found.started >= asked:
            return found
    raise AssertionError("not measured")


def state(student: Any, container: str) -> str:
    return student.ok("inspect", "-f", "{{.State.Status}}", container).strip()


def wait_for(student: Any, container: str, path: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if student.docker("exec", container, "test", "-e", path).returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"{path} never appeared in {container}")


def stopped_past_the_limit(student: Any, container: str) -> None:
    """Once `container` has written (it touches /hecho), the measure finds the student past the
    limit and stops it."""
    wait_for(student, container, "/hecho")
    assert measure(student).used > LIMIT
    assert state(student, container) == "exited"


def test_a_file_deleted_while_held_open_counts_until_its_holder_stops(
    small_disk: GatewayConfig, student: Any
) -> None:
    # No directory has it any more, so the engine's walk never saw it; the blocks stay taken
    # while `sleep` (which inherited descriptor 3) keeps it open.
    student.ok("run", "-d", "--name", "fantasma", IMAGE, "sh", "-c",
               "exec 3>/f; rm /f; dd if=/dev/zero bs=1M count=30 >&3 2>/dev/null; "
               "touch /hecho; exec sleep 600")  # fmt: skip
    stopped_past_the_limit(student, "fantasma")
    refusal = student.refused("run", "--rm", IMAGE, "true")
    assert "del disco del servidor, más de los 24 MiB" in refusal
    # Stopped, its file is closed and its blocks free: nothing is left to count.
    assert measure(student).used < 2 * MiB
    assert student.ok("run", "--rm", IMAGE, "echo", "libre") == "libre\n"


def test_a_file_held_by_an_exec_not_a_child_of_the_first_process_counts_too(
    small_disk: GatewayConfig, student: Any
) -> None:
    # `docker exec` starts its process beside the container's first one, not under it: the
    # container's processes are found through its cgroup.
    student.ok("run", "-d", "--name", "anfitrion", IMAGE, "sleep", "600")
    student.ok("exec", "-d", "anfitrion", "sh", "-c",
               "exec 3>/f; rm /f; dd if=/dev/zero bs=1M count=30 >&3 2>/dev/null; "
               "touch /hecho; exec sleep 600")  # fmt: skip
    stopped_past_the_limit(student, "anfitrion")


def test_a_deleted_file_only_mapped_in_memory_counts_too(
    small_disk: GatewayConfig, student: Any
) -> None:
    # Mapped, its descriptor closed and its name removed: only /proc/<pid>/map_files has it.
    # (Python's own mmap keeps a copy of the descriptor: libc's, through ctypes, does not.)
    program = (
        "import ctypes, os, time\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.mmap.restype = ctypes.c_void_p\n"
        "libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,"
        " ctypes.c_int, ctypes.c_long]\n"
        "fd = os.open('/f', os.O_RDWR | os.O_CREAT, 0o600)\n"
        "os.write(fd, b'x' * (30 << 20))\n"
        "address = libc.mmap(None, 30 << 20, 1, 1, fd, 0)\n"  # PROT_READ, MAP_SHARED
        "assert address not in (None, ctypes.c_void_p(-1).value)\n"
        "os.close(fd); os.unlink('/f')\n"
        "open('/hecho', 'w').close(); time.sleep(600)\n"
    )
    student.ok("run", "-d", "--name", "mapa", PYTHON, "python3", "-c", program)
    stopped_past_the_limit(student, "mapa")


def test_links_and_depth_count_against_the_file_limit(
    small_disk: GatewayConfig, student: Any
) -> None:
    # Hard links to one file: its blocks once, but each link is an entry (millions of them
    # would otherwise cost a stat each at every measure and never reach the cap).
    student.ok("run", "--rm", "-v", "enlaces-duros:/v", IMAGE, "sh", "-c",
               "echo hola > /v/f && mkdir /v/d && cd /v/d && "
               "for i in $(seq 1 2500); do ln /v/f e$i; done")  # fmt: skip
    found = measure(student)
    assert found.files is not None and found.files > MAX_FILES and found.used < MiB
    student.ok("volume", "rm", "enlaces-duros")
    assert measure(student).files == 0
    # A chain deeper than the walk goes: past the limit, whatever it counted (a second tree,
    # the volume below, would not be reached).
    student.ok("run", "--rm", "-v", "hondo:/v", IMAGE, "sh", "-c",
               "cd /v && for i in $(seq 1 140); do mkdir d && cd d; done")  # fmt: skip
    found = measure(student)
    assert found.files is not None and found.files > MAX_FILES
    assert "más de los 2000 archivos" in student.refused("run", "--rm", IMAGE, "true")


def test_a_file_held_from_a_stopped_containers_layer_counts(
    small_disk: GatewayConfig, student: Any
) -> None:
    # «capa» deletes a file it holds and stops; «guarda», sharing its process namespace, took a
    # descriptor on it first and fills it: the file is on the layer of a container that no
    # longer runs.
    student.ok("run", "-d", "--name", "guarda", IMAGE, "sleep", "600")
    student.ok("run", "-d", "--name", "capa", "--pid", "container:guarda", IMAGE, "sh", "-c",
               "exec 3>/f; rm /f; touch /hecho; exec sleep 601")  # fmt: skip
    wait_for(student, "capa", "/hecho")
    student.ok("exec", "-d", "guarda", "sh", "-c",
               "for d in /proc/[0-9]*; do case \"$(tr '\\000' ' ' < $d/cmdline 2>/dev/null)\" in "
               "'sleep 601 ') p=${d#/proc/};; esac; done; "
               "exec 4<>/proc/$p/fd/3; touch /tengo; "
               "sleep 2; dd if=/dev/zero bs=1M count=30 >&4 2>/dev/null; "
               "touch /hecho; exec sleep 600")  # fmt: skip
    wait_for(student, "guarda", "/tengo")
    student.ok("stop", "-t", "0", "capa")
    stopped_past_the_limit(student, "guarda")


def test_shared_memory_is_not_disk(small_disk: GatewayConfig, student: Any) -> None:
    # A database's shared buffers are a deleted "file" in /proc (/dev/zero, mapped shared): 30
    # MiB of memory, under the memory limit, not the disk's. Written a MiB at a time: one
    # 30 MiB string beside the mapping took the container near its memory limit (OOM at times).
    program = (
        "import mmap, time\n"
        "m = mmap.mmap(-1, 30 << 20, mmap.MAP_SHARED)\n"
        "for _ in range(30): m.write(b'x' * (1 << 20))\n"
        "open('/hecho', 'w').close(); time.sleep(600)\n"
    )
    student.ok("run", "-d", "--name", "memoria", PYTHON, "python3", "-c", program)
    wait_for(student, "memoria", "/hecho")
    assert measure(student).used < 2 * MiB
    assert state(student, "memoria") == "running"


def test_writing_to_the_engines_hosts_file_counts(small_disk: GatewayConfig, student: Any) -> None:
    # /etc/hosts is bind-mounted from the engine's folder for the container, not its layer.
    student.ok("run", "-d", "--name", "anfitriones", IMAGE, "sh", "-c",
               "dd if=/dev/zero of=/etc/hosts bs=1M count=30 2>/dev/null; "
               "touch /hecho; exec sleep 600")  # fmt: skip
    stopped_past_the_limit(student, "anfitriones")


def test_blocks_allocated_without_a_size_count_in_a_container_and_in_a_volume(
    small_disk: GatewayConfig, student: Any
) -> None:
    build_course_images(lambda _msg: None, only=["muelle/debian"])
    # `fallocate -n` (keep size): `ls` says 0 bytes, the disk lost 15 MiB for each.
    student.ok("run", "-d", "--name", "hueco", "-v", "hueco:/v", DEBIAN, "sh", "-c",
               "touch /f /v/g && fallocate -n -l 15M /f && fallocate -n -l 15M /v/g && "
               "touch /hecho; exec sleep 600")  # fmt: skip
    wait_for(student, "hueco", "/hecho")
    sizes = student.ok("exec", "hueco", "stat", "-c", "%s", "/f", "/v/g").split()
    assert sizes == ["0", "0"]
    assert measure(student).used > LIMIT
    assert state(student, "hueco") == "exited"
    student.ok("rm", "hueco")
    # The volume alone (15 MiB) is under the limit again.
    assert 14 * MiB < measure(student).used < LIMIT
    assert student.ok("run", "--rm", IMAGE, "echo", "libre") == "libre\n"


def test_empty_files_count_against_the_file_limit_in_a_container_and_in_an_image(
    small_disk: GatewayConfig, student: Any, tmp_path: Any
) -> None:
    make_files = "mkdir /d && cd /d && seq 1 2500 | xargs touch"
    student.ok("run", "-d", "--name", "inodos", IMAGE, "sh", "-c",
               f"{make_files} && touch /hecho; exec sleep 600")  # fmt: skip
    wait_for(student, "inodos", "/hecho")
    found = measure(student)
    assert found.used < LIMIT and found.files is not None and found.files > MAX_FILES
    assert state(student, "inodos") == "exited"
    refusal = student.refused("volume", "create", "otro")
    assert "más de los 2000 archivos y carpetas que puedes tener en Muelle" in refusal
    assert "docker rm" in refusal
    student.ok("rm", "inodos")
    assert student.ok("run", "--rm", IMAGE, "echo", "libre") == "libre\n"
    # The same files in a layer of an image they build count too.
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN {make_files}\n")
    student.ok("build", "-q", "-t", "inodos", str(tmp_path), timeout=180)
    found = measure(student)
    assert found.files is not None and found.files > MAX_FILES
    student.refused("run", "--rm", IMAGE, "true")
    student.ok("rmi", "inodos")
    assert student.ok("run", "--rm", IMAGE, "echo", "otra vez") == "otra vez\n"


def test_the_walk_does_not_follow_links_out_of_a_volume(
    small_disk: GatewayConfig, student: Any
) -> None:
    # The walk runs on the server: a link to «/» followed there would walk the server's root
    # (and count its files as theirs, past the cap); a link is one entry, nothing more.
    student.ok("run", "--rm", "-v", "enlaces:/v", IMAGE, "sh", "-c",
               "ln -s / /v/raiz && ln -s /proc /v/proc && mkdir /v/d && ln -s .. /v/d/arriba && "
               "echo hola > /v/hola")  # fmt: skip
    found = measure(student)
    assert found.files is not None and 5 <= found.files < 50
    assert found.used < MiB
    assert student.ok("run", "--rm", IMAGE, "echo", "sigo") == "sigo\n"


@pytest.fixture
def project_of() -> Iterator[Any]:
    yield from project_sides()


# A container of the student passes a descriptor on a file of its layer, through a unix socket
# in ~/proyecto (the folder their sandbox shares with the containers that bind it), to a process
# of their sandbox, which fills the file: the sandbox can write on through it, whatever happens
# to the container. Deleted first, or not; or at the end of a path too long for /proc to name.
def passer(delete: bool = True, long_path: bool = False, directory: bool = False) -> str:
    where = "/f"
    opener = ""
    if directory:  # a folder of its layer: whoever holds it can make files there
        return (
            "import os, socket, time\n"
            "server = socket.socket(socket.AF_UNIX)\n"
            "server.bind('/p/pase'); os.chmod('/p/pase', 0o777); server.listen(1)\n"
            "os.mkdir('/d'); os.chmod('/d', 0o777)\n"
            "fd = os.open('/d', os.O_RDONLY | os.O_DIRECTORY)\n"
            "conn, _ = server.accept()\n"
            "socket.send_fds(conn, [b'x'], [fd]); conn.recv(1)\n"
            "os.close(fd); conn.close(); server.close(); os.unlink('/p/pase')\n"
            "open('/hecho', 'w').close(); time.sleep(600)\n"
        )
    if long_path:
        opener = (
            "os.chdir('/')\n"
            "for i in range(17):\n"
            "    name = 'd%d' % i + 'x' * 245; os.mkdir(name); os.chdir(name)\n"
        )
        where = "f"
    return (
        "import os, socket, time\n"
        "server = socket.socket(socket.AF_UNIX)\n"
        "server.bind('/p/pase'); os.chmod('/p/pase', 0o777); server.listen(1)\n"
        + opener
        + f"fd = os.open('{where}', os.O_RDWR | os.O_CREAT, 0o666)\n"
        + (f"os.unlink('{where}')\n" if delete else "")
        + "conn, _ = server.accept()\n"
        "socket.send_fds(conn, [b'x'], [fd]); conn.recv(1)\n"
        "os.close(fd); conn.close(); server.close(); os.unlink('/p/pase')\n"
        "open('/hecho', 'w').close(); time.sleep(600)\n"
    )


# `fd` registered with io_uring (io_uring_setup, then io_uring_register IORING_REGISTER_FILES):
# the ring holds the file, with or without its descriptor.
REGISTER_WITH_IO_URING = (
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "params = (ctypes.c_char * 120)()\n"
    "ring = libc.syscall(425, 8, params); assert ring >= 0, ctypes.get_errno()\n"
    "files = (ctypes.c_int * 1)(fd)\n"
    "assert libc.syscall(427, ring, 2, files, 1) == 0, ctypes.get_errno()\n"
)


IO_URING_PROBE = (
    "import ctypes, errno\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "params = (ctypes.c_char * 120)()\n"
    "ring = libc.syscall(425, 8, params)\n"
    "print('yes' if ring >= 0 else errno.errorcode.get(ctypes.get_errno(), 'other'))\n"
)


def skip_without_io_uring(student: Any) -> None:
    """Where io_uring is turned off for containers (kernel.io_uring_disabled, as
    docs/despliegue.md recommends, or a seccomp profile without it), no ring can hide a file:
    there is nothing to test, and the case is skipped rather than failed."""
    found = student.ok("run", "--rm", PYTHON, "python3", "-c", IO_URING_PROBE).strip()
    if found in ("EPERM", "ENOSYS"):  # what the sysctl and a seccomp profile answer
        pytest.skip("io_uring is turned off for containers on this machine")
    assert found == "yes", f"the io_uring probe failed otherwise: {found}"


# How the sandbox's process holds it: a plain descriptor; from a thread, once the first thread
# has ended (/proc shows no descriptors and no mappings for such a process); or registered with
# io_uring, its descriptor closed (the ring alone holds it).
HOLDS = {
    "plain": "hold()\n",
    "thread": (
        "import threading\n"
        "threading.Thread(target=hold).start(); time.sleep(0.2)\n"
        "ctypes.CDLL(None).pthread_exit(None)\n"
    ),
    "io_uring": REGISTER_WITH_IO_URING + "hold(close=True)\n",
    # The folder's descriptor: moved into, then closed; each file made there is closed at once.
    "working-directory": (
        "os.fchdir(fd); os.close(fd)\n"
        "open(folder + '/tomador', 'w').write(str(os.getpid()))\n"
        "for i in range(6000):\n"
        "    with open('g%d' % (i % 4), 'wb') as g: g.write(b'x' * 4096)\n"
        "    time.sleep(0.1)\n"
    ),
}


def taker(mib_written: int, more_descriptors: int = 0, holds: str = "plain") -> str:
    return (
        "import ctypes, os, socket, time\n"
        f"hiding = [os.open('/dev/null', os.O_RDONLY) for _ in range({more_descriptors})]\n"
        "folder = '/home/alumno/proyecto'\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "for _ in range(1200):\n"
        "    try:\n"
        "        s.connect(folder + '/pase'); break\n"
        "    except OSError:\n"
        "        time.sleep(0.1)\n"
        "_, fds, _, _ = socket.recv_fds(s, 1, 1)\n"
        "s.send(b'k'); s.close(); fd = fds[0]\n"
        "def hold(close=False):\n"
        f"    for _ in range({mib_written}): os.write(fd, b'x' * (1 << 20))\n"
        "    os.fsync(fd)\n"
        "    if close: os.close(fd)\n"
        "    open(folder + '/tomador', 'w').write(str(os.getpid()))\n"
        "    time.sleep(600)\n" + HOLDS[holds]
    )


# Beside it, a process of the sandbox that holds a deleted file of its own (in memory: a
# sandbox writes on disk nowhere else), working in the gateway folder (on the server's disk,
# but the engine mounted it there) and reading its /etc/hosts: it must be left alone.
BYSTANDER = (
    "cd /run/muelle; exec 3>/home/alumno/t 4</etc/hosts; rm /home/alumno/t; "
    "echo $$ > /home/alumno/proyecto/vecino; exec sleep 600"
)


def pass_a_file_into_the_sandbox(
    student: Any,
    side: ProjectSide,
    mib_written: int,
    more_descriptors: int = 0,
    passing: str | None = None,
    holds: str = "plain",
) -> None:
    """The pass above, done; the sandbox's holder and bystander have written their pids."""
    side.sh(f"chmod 0777 {side.folder}")  # the container's root has no CAP_DAC_OVERRIDE
    side.sh(f"nohup sh -c '{BYSTANDER}' >/dev/null 2>&1 &")
    student.ok("run", "-d", "--name", "pasador", "-v", f"{side.folder}:/p", PYTHON,
               "python3", "-c", passing or passer())  # fmt: skip
    result = subprocess.run(
        [DOCKER, "exec", "-d", "-u", SANDBOX_USER, side.container, "python3", "-c",
         taker(mib_written, more_descriptors, holds)],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    wait_for(student, "pasador", "/hecho")
    deadline = time.monotonic() + 120
    while "tomador" not in side.sh(f"ls {side.folder}"):
        assert time.monotonic() < deadline, "the sandbox never took the file"
        time.sleep(0.3)


def alive_in(side: ProjectSide, pid_file: str) -> bool:
    pid = side.sh(f"cat {side.folder}/{pid_file}").strip()
    return side.sh(f"test -d /proc/{pid} && echo vivo || echo no").strip() == "vivo"


def gone_in_time(side: ProjectSide, pid_file: str) -> bool:
    deadline = time.monotonic() + 30
    while alive_in(side, pid_file):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_a_file_passed_into_the_sandbox_counts_and_its_holder_is_stopped(
    small_disk: GatewayConfig, student: Any, project_of: Any
) -> None:
    side = project_of(student, image=PYTHON, as_sandbox=True)
    pass_a_file_into_the_sandbox(student, side, 30)
    # No container of theirs holds it: before, no measure saw it, and the sandbox could write
    # on through it without bound. Now it counts, and past the limit its holder is killed.
    assert measure(student).used > LIMIT
    assert gone_in_time(side, "tomador")
    # Only that process: the sandbox (the student's terminal) and its other processes go on.
    assert alive_in(side, "vecino")
    assert side.sh("echo sigo") == "sigo\n"
    # Its holder gone, the file's blocks are free: the student is under the limit again.
    assert measure(student).used < 2 * MiB
    assert student.ok("run", "--rm", IMAGE, "echo", "libre") == "libre\n"


def test_a_holder_hidden_among_more_descriptors_than_the_cap_is_stopped_too(
    small_disk: GatewayConfig, student: Any, project_of: Any
) -> None:
    # A file behind more descriptors than a measure looks at in a process: the measure stops
    # looking there, and the process it could not see through is a holder it stops.
    side = project_of(student, image=PYTHON, as_sandbox=True)
    pass_a_file_into_the_sandbox(student, side, 1, more_descriptors=MAX_FILES + 100)
    measure(student)
    assert gone_in_time(side, "tomador")
    assert alive_in(side, "vecino")


def test_a_holder_behind_other_processes_many_descriptors_is_stopped_too(
    small_disk: GatewayConfig, student: Any, project_of: Any
) -> None:
    # Two processes started before the holder, with more descriptors between them than a
    # measure looks at in one process: each process has a budget of its own, so the holder
    # (read after them) is still seen, and the two are left alone.
    side = project_of(student, image=PYTHON, as_sandbox=True)
    for name, count in (("uno", MAX_FILES * 3 // 4), ("dos", MAX_FILES // 2)):
        program = (
            f"import os, time; held = [os.open('/dev/null', os.O_RDONLY) for _ in range({count})]; "
            f"open('{side.folder}/{name}', 'w').write(str(os.getpid())); time.sleep(600)"
        )
        side.sh(f'nohup python3 -c "{program}" >/dev/null 2>&1 &')
    deadline = time.monotonic() + 60
    while not {"uno", "dos"} <= set(side.sh(f"ls {side.folder}").split()):
        assert time.monotonic() < deadline, "the decoys never started"
        time.sleep(0.2)
    pass_a_file_into_the_sandbox(student, side, 1)
    measure(student)
    assert gone_in_time(side, "tomador")
    assert alive_in(side, "uno") and alive_in(side, "dos") and alive_in(side, "vecino")


@pytest.mark.parametrize(
    ("passing", "holds", "then"),
    [
        pytest.param(passer(delete=False), "plain", None, id="kept-in-the-layer"),
        pytest.param(passer(delete=False), "plain", "rm", id="its-container-removed"),
        pytest.param(passer(long_path=True), "plain", None, id="path-too-long-to-name"),
        pytest.param(passer(), "thread", None, id="held-by-a-thread-its-first-ended"),
        pytest.param(passer(), "io_uring", None, id="registered-with-io_uring"),
        pytest.param(passer(directory=True), "working-directory", None, id="a-folder-moved-into"),
    ],
)
def test_any_file_on_disk_held_in_the_sandbox_is_stopped_at_the_next_measure(
    small_disk: GatewayConfig,
    student: Any,
    project_of: Any,
    passing: str,
    holds: str,
    then: str | None,
) -> None:
    # An attack review found each of these past the first version, which stopped only a plain
    # descriptor on a file /proc named as deleted, and only past the limit. A sandbox holds a
    # file on disk only if a container passed it in, so its holder is stopped at once, under
    # the limit too (1 MiB here): it could write on without bound.
    if holds == "io_uring":
        skip_without_io_uring(student)
    side = project_of(student, image=PYTHON, as_sandbox=True)
    pass_a_file_into_the_sandbox(student, side, 1, passing=passing, holds=holds)
    if then == "rm":
        student.ok("rm", "-f", "pasador")
    measure(student)
    assert gone_in_time(side, "tomador")
    assert alive_in(side, "vecino")
    assert side.sh("echo sigo") == "sigo\n"


CONTAINER_HOLDS = {
    "thread": (
        "import threading\n"
        "threading.Thread(target=time.sleep, args=(600,)).start(); time.sleep(0.2)\n"
        "open('/hecho', 'w').close()\n"
        "ctypes.CDLL(None).pthread_exit(None)\n"
    ),
    "io_uring": (
        REGISTER_WITH_IO_URING + "os.close(fd); open('/hecho', 'w').close(); time.sleep(600)\n"
    ),
}


@pytest.mark.parametrize("holds", sorted(CONTAINER_HOLDS))
def test_a_container_process_the_measure_cannot_see_through_puts_them_past_the_limit(
    small_disk: GatewayConfig, student: Any, holds: str
) -> None:
    # A deleted file held where /proc shows nothing: by a process whose first thread ended
    # while another goes on, or registered with io_uring and its descriptor closed. What the
    # measure cannot see may be anything: as a walk that stops early, past the limit.
    program = (
        "import ctypes, os, time\n"
        "fd = os.open('/f', os.O_RDWR | os.O_CREAT, 0o600); os.unlink('/f')\n"
        "os.write(fd, b'x' * (1 << 20))\n" + CONTAINER_HOLDS[holds]
    )
    if holds == "io_uring":
        skip_without_io_uring(student)
    # --init: `docker exec` (wait_for) enters through the first process, not a zombie one.
    student.ok("run", "-d", "--init", "--name", "oculto", PYTHON, "python3", "-c", program)
    wait_for(student, "oculto", "/hecho")
    found = measure(student)
    assert found.unseen and found.files is not None and found.files > MAX_FILES
    assert state(student, "oculto") == "exited"
    # Told why, not «more than the N files»: what they have is a process Muelle cannot read.
    refusal = student.refused("volume", "create", "otro")
    assert "un proceso cuyos archivos Muelle no puede ver" in refusal, refusal
    assert "archivos y carpetas que puedes tener" not in refusal, refusal
