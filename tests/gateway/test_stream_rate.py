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
import subprocess
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
# A full bucket, SECONDS of the rate, and one read already taken when the time ran out.
MOST = RATE * (SECONDS + 1) + READ_SIZE


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
    slow_student.ok(
        "run", "-d", "--name", "habla", IMAGE, "sh", "-c", f"head -c {BIG} /dev/zero; sleep 600"
    )
    (received,) = _bytes_within([["logs", "-f", "habla"]], slow_student.env())
    assert 0 < received <= MOST, (received, MOST)


def test_a_body_the_student_sends_is_paced(slow_student, tmp_path):
    # `docker cp` into a container sends a tar body the gateway reads whole: the answer waits
    # for the rate, so the student's next stream cannot start before it.
    source = tmp_path / "subida"
    source.write_bytes(b"\0" * (2 * 1024 * 1024))
    upload = subprocess.Popen(
        [DOCKER, "cp", str(source), "fuente:/subida"],
        env=slow_student.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(SECONDS)
    # 2 MiB at 256 KiB/s, after a full bucket: not before 7 s.
    assert upload.poll() is None, upload.stderr.read() if upload.stderr else None
    assert upload.wait(60) == 0
    assert slow_student.ok("exec", "fuente", "wc", "-c", "/subida").split()[0] == str(
        2 * 1024 * 1024
    )


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
