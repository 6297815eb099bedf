"""`curl localhost:<port>` in a student's terminal is copied between two network namespaces by
the web process (sandbox/ports/table.py): it is held to the student's byte rate, as the preview
is (sandbox/ports/byte_rate.py). Before, a student could stream through it without bound and
take the web process's time from every other student's terminal and preview."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from harness.live_server import LiveServer
from harness.preview_client import Student, live_server_fixture
from harness.shell_commands import curl_once_listening

pytestmark = [pytest.mark.docker]

RATE = 64 * 1024  # PREVIEW_BYTES_PER_SECOND of this module's server
BIG = 4 * 1024 * 1024  # what the container serves
SECONDS = 3  # curl's --max-time


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from live_server_fixture(tmp_path_factory, "portrate", PREVIEW_BYTES_PER_SECOND=str(RATE))


async def test_curl_in_the_terminal_is_held_to_the_students_byte_rate(server):
    ana = await asyncio.to_thread(Student, server)
    serve_big = (
        "docker run -d -m 32m --name grande -p 8090:80 muelle/busybox sh -c "
        f"'mkdir -p /w && head -c {BIG} /dev/zero > /w/grande && exec httpd -f -p 80 -h /w'"
        " >/dev/null && " + curl_once_listening("localhost:8090/")  # a 404 of a few bytes
    )
    await ana.shell(serve_big)
    # What arrives in SECONDS: at most a full bucket, SECONDS of the rate and one piece over.
    out = await ana.shell(
        f"curl -s --max-time {SECONDS} -o /dev/null -w 'LLEGARON=%{{size_download}}\\n' "
        "localhost:8090/grande; true"
    )
    received = int(out.rsplit("LLEGARON=", 1)[1].split()[0])  # the last: not the echoed command
    assert 0 < received <= RATE * (SECONDS + 1) + 64 * 1024, received
    assert received < BIG
