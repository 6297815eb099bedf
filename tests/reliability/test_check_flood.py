"""A student who floods «Comprobar» (exercises/check_slots.py), against the real server.

An attack review made each check wait (the file the check reads turned into a FIFO) and sent 60
at once: every one held a request thread until its time ran out, and on a PostgreSQL with 40
connections other visitors' pages got 500s. Now two of a student's checks run at once and the
rest are answered at once."""

from __future__ import annotations

import select
import socket
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from harness.live_server import LiveServer, instance_containers
from harness.raw_http import csrf_headers, head, read_response, request

pytestmark = pytest.mark.docker

CHECK = "/ejercicios/que-es-docker/cambios-efimeros/comprobar/"
REFUSED = "Todavía estamos comprobando lo que enviaste antes"
SENT = 6
IN_FLIGHT = 2  # exercises.check_slots.MAX_IN_FLIGHT


def student_headers(server: LiveServer) -> dict[str, str]:
    headers = csrf_headers()
    headers["Cookie"] += "; " + server.session_cookie("/lecciones/que-es-docker/")
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return headers


def in_sandbox(server: LiveServer, script: str) -> None:
    [container] = instance_containers(server.instance)
    subprocess.run(
        ["docker", "exec", "-u", "1000:1000", container, "sh", "-c", script],
        check=True,
        capture_output=True,
        timeout=60,
    )


def answered(sockets: list[socket.socket], wait: float) -> list[socket.socket]:
    ready, _, _ = select.select(sockets, [], [], wait)
    return ready


def test_a_flood_of_checks_runs_two_at_a_time_and_answers_the_rest_at_once(
    live: Callable[..., LiveServer],
) -> None:
    server = live(SANDBOX_RUN_TIMEOUT="4", DOCKER_GATEWAY_ENABLED="0")
    headers = student_headers(server)
    first = request(server.port, "POST", CHECK, headers)
    assert first.status == 200 and REFUSED not in first.body.decode()
    # The check reads ~/hola.txt: as a FIFO, each check waits its whole time.
    in_sandbox(server, "rm -f ~/hola.txt; mkfifo ~/hola.txt")

    posted = {**headers, "Content-Length": "0"}
    sockets = []
    for _ in range(SENT):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(head("POST", CHECK, server.port, posted))
        sockets.append(sock)
    try:
        # Those past the student's two places come back while the two still wait.
        refused: list[Any] = []
        waiting = list(sockets)
        while len(refused) < SENT - IN_FLIGHT:
            ready = answered(waiting, 60)
            assert ready, f"only {len(refused)} refused, the others still wait"
            for sock in ready:
                response = read_response(sock)
                assert response.status == 200
                assert REFUSED in response.body.decode(), response.body[-2000:]
                refused.append(response)
                waiting.remove(sock)
        assert len(waiting) == IN_FLIGHT
        # Then they end as checks do (the FIFO never gave anything to read).
        for sock in waiting:
            response = read_response(sock, timeout=120)
            assert response.status == 200 and REFUSED not in response.body.decode()
    finally:
        for sock in sockets:
            sock.close()

    # Their places are free again: a check runs (and passes its file step).
    in_sandbox(server, "rm -f ~/hola.txt; echo hola > ~/hola.txt")
    again = request(server.port, "POST", CHECK, headers)
    assert again.status == 200 and REFUSED not in again.body.decode()
    assert "Internal Server Error" not in server.log.read_text()
