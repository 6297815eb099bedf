"""The real server warms its lesson pages when it starts (lessons.warm_up, from the ASGI
lifespan in tutorial.asgi, in its own thread): its log says which pages, and nothing failed.
What the warmed page is worth is in tests/lessons/test_warm_up.py."""

from __future__ import annotations

import time

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
    assert not [line for line in log.splitlines() if "WARNING lessons.warm_up" in line], log
    line = next((line for line in log.splitlines() if WARMED in line), None)
    assert line is not None, log
    warmed = line.split(WARMED, 1)[1].split()
    assert warmed[0] == reverse("lessons:index")
    assert warmed[1].startswith("/lecciones/")
