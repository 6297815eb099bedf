"""Logging out ends the student's terminals and sandbox on the real server (python -m
tutorial.server, real engine), shown ones and ones in their reconnect grace alike."""

from __future__ import annotations

import asyncio
import re
import time
from urllib.parse import urlencode

import pytest

from harness.live_server import LiveServer, instance_containers
from harness.raw_http import csrf_headers, request
from harness.tabs import new_terminal_id

from .hostile_ws import open_socket, until_closed, until_event

pytestmark = [pytest.mark.docker]

LOGIN = "/ejercicios/cuenta/entrar/"
LOGOUT = "/ejercicios/cuenta/salir/"


def log_in(server: LiveServer, session: str | None = None) -> str:
    """`sessionid=...` of a logged-in student (user made with manage.py), logging in from the
    browser session `session` (`sessionid=...`) when given."""
    server.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User;"
        "User.objects.create_user('alumna', password='una-clave-larga-9')",
    )
    headers = csrf_headers()
    if session is not None:
        headers["Cookie"] += f"; {session}"
    token = headers["X-CSRFToken"]
    form = urlencode(
        {"username": "alumna", "password": "una-clave-larga-9", "csrfmiddlewaretoken": token}
    ).encode()
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = request(server.port, "POST", LOGIN, headers, form)
    assert response.status == 302, response
    cookie = next(c for c in response.headers["set-cookie"] if c.startswith("sessionid="))
    match = re.match(r"(sessionid=[^;]+)", cookie)
    assert match is not None
    return match[1]


async def test_logging_out_closes_the_terminals_with_a_notice_and_removes_the_sandbox(live):
    """Pass: a logged-in student with one terminal shown and one in its grace period (tab closed,
    grace 60 s) logs out: the shown one gets a Spanish notice and close 4403, and the sandbox is
    removed (no container of the instance is left, well before the grace would end)."""
    server = live(SANDBOX_RECONNECT_GRACE="60")
    cookie = log_in(server)
    shown = await open_socket(server, cookie, new_terminal_id())
    await until_event(shown, "ready")
    closed_tab = await open_socket(server, cookie, new_terminal_id())
    await until_event(closed_tab, "ready")
    await closed_tab.close()
    assert len(instance_containers(server.instance)) == 1

    headers = csrf_headers()
    headers["Cookie"] += f"; {cookie}"
    logged_out = await asyncio.to_thread(request, server.port, "POST", LOGOUT, headers)
    assert logged_out.status == 302

    events = await until_closed(shown)
    assert shown.close_code == 4403
    assert "Has cerrado la sesión" in events[-1]["message"]
    deadline = time.monotonic() + 30
    while instance_containers(server.instance) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert instance_containers(server.instance) == []


async def wait_for_no_containers(server: LiveServer) -> list[str]:
    deadline = time.monotonic() + 30
    while instance_containers(server.instance) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return instance_containers(server.instance)


async def test_a_session_deleted_behind_the_terminal_ends_it(live):
    """Pass (TERMINAL_SESSION_CHECK 0.5 s): the session row is deleted from the database (as a
    logout served by another process, or an expiry clean-up, would): the open terminal gets a
    Spanish notice and 4403, and its sandbox is removed."""
    server = live(TERMINAL_SESSION_CHECK="0.5")
    cookie = server.session_cookie()
    ws = await open_socket(server, cookie, new_terminal_id())
    await until_event(ws, "ready")
    key = cookie.split("=", 1)[1]
    server.manage(
        "shell",
        "-c",
        "from django.contrib.sessions.models import Session;"
        f"Session.objects.filter(session_key='{key}').delete()",
    )
    events = await until_closed(ws)
    assert ws.close_code == 4403
    assert "Tu sesión del navegador ha terminado" in events[-1]["message"]
    assert await wait_for_no_containers(server) == []


async def test_logging_in_with_a_terminal_open_ends_the_old_sessions_terminal(live):
    """Pass (TERMINAL_SESSION_CHECK 0.5 s): an anonymous student with an open terminal logs in;
    the login cycles the session key (the old one is deleted), so the old session's terminal is
    told and closed 4403 and its sandbox removed, instead of running on unowned."""
    server = live(TERMINAL_SESSION_CHECK="0.5")
    anonymous = server.session_cookie()
    ws = await open_socket(server, anonymous, new_terminal_id())
    await until_event(ws, "ready")
    cookie = log_in(server, anonymous)
    assert cookie != anonymous
    events = await until_closed(ws)
    assert ws.close_code == 4403
    assert events[-1]["type"] == "notice"
    assert await wait_for_no_containers(server) == []
