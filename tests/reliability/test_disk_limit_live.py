"""DOCKER_GATEWAY_MAX_DISK in the running server: the reaper's heartbeat measures what a
student's container wrote, stops it past the limit, and the student's next `docker run` in the
terminal says why (the rules themselves: tests/gateway/test_disk_limit.py)."""

from __future__ import annotations

import asyncio

import pytest

from harness.preview_client import Student

pytestmark = pytest.mark.docker

FILL = (
    "docker run -d --name llena muelle/busybox sh -c "
    "'dd if=/dev/zero of=/relleno bs=1M count=30 2>/dev/null; exec sleep 600' >/dev/null"
)


async def test_the_server_stops_a_container_that_fills_its_disk_and_the_terminal_says_why(live):
    # SANDBOX_REAP_INTERVAL at its minimum: a heartbeat every 2.5 s.
    server = live(DOCKER_GATEWAY_MAX_DISK="24m", SANDBOX_REAP_INTERVAL="5")
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(FILL)
    status = await ana.wait_for_state("llena", "exited", tries=120, pause=0.5)
    assert "estado=exited" in status, status

    # The echo's text is split in the command line, so it shows whole only if it ran.
    refused = await ana.shell("docker run --rm muelle/busybox echo nun''ca")
    assert "más de los 24 MiB que tienes en Muelle" in refused, refused
    assert "nunca" not in refused

    await ana.shell("docker rm llena >/dev/null")
    again = await ana.shell("docker run --rm muelle/busybox echo de''nuevo")
    assert "denuevo" in again, again
    # Every heartbeat also looked at the processes of her real sandbox (the shell, dtach, each
    # `docker` as it ran): none holds a file on disk that is not its own, so none was stopped.
    assert "process(es) of their sandbox" not in server.log.read_text(errors="replace")
