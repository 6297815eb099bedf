"""The real server warms its lesson pages when it starts (lessons.warm_up, from the ASGI
lifespan in tutorial.asgi): its log says which pages, and nothing failed."""

from __future__ import annotations

import time
import urllib.request

import pytest
from django.urls import reverse

pytestmark = pytest.mark.docker

WARMED = "lesson pages warmed up:"


def test_a_started_server_warms_the_index_and_the_first_lesson(live):
    server = live()
    deadline = time.monotonic() + 60  # a bound on the wait, not a figure asserted
    while WARMED not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = server.log.read_text()
    assert "warming up the lesson pages failed" not in log
    line = next(line for line in log.splitlines() if WARMED in line)
    warmed = line.split(WARMED, 1)[1].split()
    assert warmed[0] == reverse("lessons:index")
    assert warmed[1].startswith("/lecciones/")
    # The page it warmed is there for a real visitor.
    with urllib.request.urlopen(server.url + warmed[1], timeout=30) as response:  # noqa: S310
        assert response.status == 200
        assert b'id="lesson-content"' in response.read()
