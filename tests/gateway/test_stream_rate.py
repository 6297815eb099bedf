"""The gateway holds each student's streams to a byte rate (DOCKER_GATEWAY_BYTES_PER_SECOND).

The web process copies every byte of `docker exec`, `docker cp`, `docker logs`, `docker export`
and the bodies a student sends. An attack review measured 160-280 MiB/s through it with no
bound, and two such loops doubled another student's `docker version` latency. Each student now
has one bucket for all their streams, both ways.

The checks bound what arrives in a few seconds from above (a full bucket, the rate for those
seconds and one read over): a slow machine only makes fewer bytes arrive.
"""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import tarfile
import threading
import time

import pytest

from sandbox.gateway import lifecycle
from sandbox.gateway.wire import READ_SIZE

from .conftest import DOCKER, IMAGE

pytestmark = pytest.mark.docker

RATE = 256 * 1024
SECONDS = 3
BIG = 8 * 1024 * 1024


# A full bucket, SECONDS of the rate, one read taken when the time ran out, and two seconds of
# slack for a loaded machine that wakes the test late (unpaced, these streams pass many MiB).
MOST = RATE * (SECONDS + 1 + 2) + READ_SIZE


@pytest.fixture
def slow_student(make_student, gateway_config):
    lifecycle.configure(dataclasses.replace(gateway_config, stream_bytes_per_second=RATE))
    student = make_student()
    student.ok("run", "-d", "--name", "fuente", IMAGE, "sh", "-c", "sleep 600")
    return student


def _bytes_within(commands: list[list[str]], env: dict[str, str]) -> list[int]:
    """Runs the commands at once and counts what each printed in SECONDS."""
    processes = [
        subprocess.Popen([DOCKER, *args], stdout=subprocess.PIPE, env=env) for args in commands
    ]
    counts = [0] * len(processes)

    def read(index: int, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        while data := process.stdout.read1(READ_SIZE):
            counts[index] += len(data)

    readers = [
        threading.Thread(target=read, args=(i, p), daemon=True) for i, p in enumerate(processes)
    ]
    for reader in readers:
        reader.start()
    time.sleep(SECONDS)
    # What arrived up to now; the pipes are closed by the kill, and the readers end.
    seen = list(counts)
    for process in processes:
        process.kill()
        process.wait()
    for reader in readers:
        reader.join(10)
    return seen


def test_exec_and_cp_out_share_one_bucket(slow_student):
    # Two containers: the engine locks a container while an archive of it is read, so an
    # exec in the one being copied would wait for the copy to end.
    slow_student.ok("run", "-d", "--name", "copia", IMAGE, "sleep", "600")
    for name in ("fuente", "copia"):
        slow_student.ok("exec", name, "sh", "-c", f"head -c {BIG} /dev/zero > /grande")
    exec_bytes, cp_bytes = _bytes_within(
        [
            ["exec", "fuente", "cat", "/grande"],  # hijacked exec stream, spliced
            ["cp", "copia:/grande", "-"],  # an archive, passed through
        ],
        slow_student.env(),
    )
    assert exec_bytes > 0 and cp_bytes > 0, (exec_bytes, cp_bytes)
    assert exec_bytes + cp_bytes <= MOST, (exec_bytes, cp_bytes, MOST)


def test_logs_are_held_to_the_rate(slow_student):
    # Endless output: the log file is capped (SANDBOX_LOG_MAX_SIZE), so only what follows
    # the container as it writes can pass the rate.
    slow_student.ok("run", "-d", "--name", "habla", IMAGE, "sh", "-c", "yes " + "a" * 500)
    (received,) = _bytes_within([["logs", "-f", "habla"]], slow_student.env())
    assert 0 < received <= MOST, (received, MOST)


def _running_after_the_window(student, *args: str) -> subprocess.Popen[bytes]:  # noqa: ANN001
    """`docker *args`, checked to be still running SECONDS after it started (where the rate
    makes finishing sooner impossible)."""
    command = subprocess.Popen(
        [DOCKER, *args], env=student.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    time.sleep(SECONDS)
    assert command.poll() is None, command.stderr.read() if command.stderr else None
    return command


def test_a_body_the_student_sends_is_paced(slow_student, tmp_path):
    # `docker cp` into a container sends a tar body the gateway reads whole: the answer waits
    # for the rate, so the student's next stream cannot start before it.
    source = tmp_path / "subida"
    source.write_bytes(b"\0" * (1024 * 1024))
    # 1 MiB in at 256 KiB/s after a full bucket (3 s), then the archive written again to the
    # engine, which waits for the bucket to fill once more: not before 4 s.
    upload = _running_after_the_window(slow_student, "cp", str(source), "fuente:/subida")
    assert upload.wait(60) == 0
    assert slow_student.ok("exec", "fuente", "wc", "-c", "/subida").split()[0] == str(1024 * 1024)


def test_the_default_rate_lets_a_course_sized_stream_through(student):
    # At the default rate, an 8 MiB exec output arrives whole (the rate is for loops, not for
    # the course's own commands).
    student.ok("run", "-d", "--name", "fuente", IMAGE, "sleep", "600")
    out = subprocess.run(
        [DOCKER, "exec", "fuente", "head", "-c", str(BIG), "/dev/zero"],
        capture_output=True,
        env=student.env(),
        timeout=60,
        check=True,
    )
    assert len(out.stdout) == BIG


def _accepted_within(socket_path: str, head: bytes, wait_for: bytes | None = None) -> int:
    """Sends `head`, (after the answer starts with `wait_for`) then zeros without end; how many
    bytes of them the gateway took in SECONDS (and the kernel's socket buffers held)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(socket_path)
    conn.sendall(head)
    if wait_for is not None:
        conn.settimeout(30)
        assert conn.recv(4096).startswith(wait_for)
    conn.settimeout(0.2)
    sent = 0
    zeros = bytes(READ_SIZE)
    deadline = time.monotonic() + SECONDS
    try:
        while time.monotonic() < deadline:
            try:
                sent += conn.send(zeros)
            except TimeoutError:
                continue  # the gateway is not reading: the buffers are full
    finally:
        conn.close()
    return sent


# Unix socket buffers on both sides hold some of what is sent before anyone reads it.
BUFFERS = 2 * 1024 * 1024


def test_a_body_sent_to_an_endpoint_that_takes_none_is_read_at_the_rate(slow_student):
    # The gateway reads and drops such a body (up to 64 MiB) so the connection can go on; an
    # attack review had it read 2.3 GiB/s that way with no pacing.
    head = b"GET /_ping HTTP/1.1\r\nHost: docker\r\nContent-Length: 67108864\r\n\r\n"
    sent = _accepted_within(str(slow_student.socket), head)
    assert 0 < sent <= MOST + BUFFERS, (sent, MOST + BUFFERS)


def test_what_follows_a_buildkit_session_upgrade_is_read_at_the_rate(slow_student):
    head = (
        b"POST /v1.41/session HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
        b"Upgrade: h2c\r\nContent-Length: 0\r\n\r\n"
    )
    sent = _accepted_within(str(slow_student.socket), head, wait_for=b"HTTP/1.1 101 ")
    assert 0 < sent <= MOST + BUFFERS, (sent, MOST + BUFFERS)


def test_an_import_is_paced_as_the_gateway_sends_it_uncompressed(slow_student, tmp_path):
    # 16 MiB of zeros weigh 16 KiB gzipped: charged only on the way in, the import passed the
    # rate by the compression ratio (the review: 400 MiB to the engine for 1.8 MiB charged).
    archive = tmp_path / "ceros.tar.gz"
    (tmp_path / "ceros").write_bytes(bytes(16 * 1024 * 1024))
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "ceros", arcname="ceros")
    assert archive.stat().st_size < 100 * 1024
    # 16 MiB at 256 KiB/s: not before a minute.
    importing = _running_after_the_window(slow_student, "import", str(archive), "ceros:1")
    importing.kill()
    importing.wait()


def test_large_json_answers_count_against_the_rate(slow_student):
    # `docker diff` of 5,000 files with long names is a JSON answer of about 1.2 MB, read whole
    # by the gateway and rewritten (in a thread, past 1 MiB).
    slow_student.ok(
        "exec",
        "fuente",
        "sh",
        "-c",
        "mkdir /d && cd /d && awk 'BEGIN{for(i=0;i<5000;i++) printf \"%0200d\\n\", i}' "
        "| xargs touch",
    )
    first = slow_student.ok("diff", "fuente")
    assert first.count("\n") >= 5000
    answers: list[int] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.is_set():
                answers.append(len(slow_student.ok("diff", "fuente", timeout=120)))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    runner = threading.Thread(target=loop, daemon=True)
    runner.start()
    time.sleep(SECONDS)
    done = list(answers)
    stop.set()
    # The first answer was charged already: at most the rate's worth, and one answer read
    # before its charge, arrived (unpaced, about ten answers came in that time).
    assert sum(done) <= MOST + 2 * len(first), (len(done), sum(done))
    runner.join(300)
    assert not runner.is_alive() and not failures, failures
    assert answers and set(answers) == {len(first)}, answers


def test_each_member_of_a_copied_archive_counts(slow_student, tmp_path):
    # The gateway rewrites every member of a `docker cp` archive (about 50 us of the web
    # process each): 128 empty files weigh 65 KiB, and count 128 x 16 KiB = 2 MiB.
    folder = tmp_path / "muchos"
    folder.mkdir()
    for index in range(128):
        (folder / f"f{index}").touch()
    # 2 MiB at 256 KiB/s after a full bucket: the archive reaches the engine after about 7 s.
    copy = _running_after_the_window(slow_student, "cp", str(folder), "fuente:/muchos")
    assert copy.wait(60) == 0
    assert slow_student.ok("exec", "fuente", "sh", "-c", "ls /muchos | wc -l").strip() == "128"
