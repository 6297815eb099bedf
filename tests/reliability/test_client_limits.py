"""Per-client-address limits on the real server (python -m tutorial.server, real engine): one
address cannot hold every sandbox, terminal or session, and is told so in Spanish; the address is
the socket's peer unless a configured trusted proxy says otherwise."""

from __future__ import annotations

import asyncio
import re

import pytest

from harness.live_server import instance_containers
from harness.raw_http import csrf_headers, request
from harness.tabs import new_terminal_id

from .hostile_ws import open_socket, until_closed, until_event

pytestmark = [pytest.mark.docker]

PROXIED = {"X-Forwarded-For": "203.0.113.7"}


async def test_one_address_waits_in_its_own_line_while_another_gets_a_sandbox(live):
    """Pass (CLIENT_MAX_SANDBOXES=2, CLIENT_MAX_TERMINALS=4, proxy 127.0.0.1 trusted): two
    sessions from one address get shells; the third and fourth get `queued` (reason address,
    places 1 and 2, Spanish); a session from another address gets its shell at once, while
    they wait (3 containers in all); when the first closes, the third gets its shell before the
    fourth; a new terminal then waits too (B, C, D and it: 4 from the address) and the next new
    one is refused 4002 with a Spanish notice, while reattaching to an existing terminal is
    allowed."""
    server = live(
        CLIENT_MAX_SANDBOXES="2",
        CLIENT_MAX_TERMINALS="4",
        TRUSTED_PROXIES="127.0.0.1",
        SANDBOX_RECONNECT_GRACE="0",
    )
    first, second = new_terminal_id(), new_terminal_id()
    a = await open_socket(server, server.session_cookie(), first)
    b_cookie = server.session_cookie()
    b = await open_socket(server, b_cookie, second)
    await until_event(a, "ready")
    await until_event(b, "ready")

    c = await open_socket(server, server.session_cookie(), new_terminal_id())
    queued_c = await until_event(c, "queued")
    d = await open_socket(server, server.session_cookie(), new_terminal_id())
    queued_d = await until_event(d, "queued")
    assert (queued_c["reason"], queued_c["position"]) == ("address", 1)
    assert (queued_d["reason"], queued_d["position"]) == ("address", 2)
    assert "Desde tu red" in queued_c["message"] and "puesto 1" in queued_c["message"]

    other = await open_socket(server, server.session_cookie(), new_terminal_id(), headers=PROXIED)
    await until_event(other, "ready")
    assert len(instance_containers(server.instance)) == 3

    await a.close()
    await until_event(c, "ready")
    moved = await until_event(d, "queued")
    assert moved["position"] == 1

    e = await open_socket(server, server.session_cookie(), new_terminal_id())
    assert (await until_event(e, "queued"))["position"] == 2
    f = await open_socket(server, server.session_cookie(), new_terminal_id())
    events = await until_closed(f)
    assert f.close_code == 4002
    assert "terminales abiertas" in events[-1]["message"]
    again = await open_socket(server, b_cookie, second)  # an existing terminal: not a new one
    assert (await until_event(again, "ready"))["reattached"] is True
    for ws in (b, c, d, e, other, again):
        await ws.close()


async def test_a_forwarded_for_header_is_ignored_unless_the_proxy_is_trusted(live):
    """Pass (no TRUSTED_PROXIES, CLIENT_MAX_SANDBOXES=1): a second session that claims another
    address in X-Forwarded-For still waits in the peer address's line."""
    server = live(CLIENT_MAX_SANDBOXES="1")
    a = await open_socket(server, server.session_cookie(), new_terminal_id())
    await until_event(a, "ready")
    b = await open_socket(server, server.session_cookie(), new_terminal_id(), headers=PROXIED)
    queued = await until_event(b, "queued")
    assert queued["reason"] == "address"
    assert len(instance_containers(server.instance)) == 1
    await a.close()
    await b.close()


def session_rows(server) -> int:  # noqa: ANN001
    out = server.manage(
        "shell",
        "-c",
        "from django.contrib.sessions.models import Session; print(Session.objects.count())",
    ).stdout
    return int(out.split()[-1])


async def test_new_sessions_per_address_are_limited_with_a_spanish_429(live):
    """Pass (CLIENT_SESSION_BURST=3, proxy 127.0.0.1 trusted): three posts to the session view
    get a session each; the fourth gets 429 with Retry-After, a Spanish text and no session
    cookie, and no session row is left for it; a lesson page is still served, without a session;
    a browser that already has its session is served;
    another address (through the trusted proxy) still gets a new session."""
    server = live(
        CLIENT_SESSION_BURST="3", CLIENT_SESSIONS_PER_MINUTE="0.1", TRUSTED_PROXIES="127.0.0.1"
    )
    path = "/sandbox/sesion/"
    made = [await asyncio.to_thread(request, server.port, "POST", path, csrf_headers())]
    made += [await asyncio.to_thread(request, server.port, "POST", path, csrf_headers())]
    made += [await asyncio.to_thread(request, server.port, "POST", path, csrf_headers())]
    assert [r.status for r in made] == [204, 204, 204]
    cookies = [c for r in made for c in r.headers.get("set-cookie", []) if "sessionid=" in c]
    assert len(cookies) == 3

    refused = request(server.port, "POST", path, csrf_headers())
    assert refused.status == 429
    assert int(refused.header("retry-after") or 0) >= 1
    assert "Desde tu red" in refused.body.decode()
    assert not any("sessionid=" in c for c in refused.headers.get("set-cookie", []))
    assert session_rows(server) == 3
    # Reading is never refused: a lesson page (it makes a session) is served, without one.
    page = request(server.port, "GET", "/lecciones/que-es-docker/")
    assert page.status == 200
    assert not any("sessionid=" in c for c in page.headers.get("set-cookie", []))
    assert session_rows(server) == 3

    existing = re.match(r"sessionid=([^;]+)", cookies[0])
    assert existing is not None
    headers = csrf_headers()
    headers["Cookie"] += f"; sessionid={existing[1]}"
    assert request(server.port, "POST", path, headers).status == 204
    elsewhere = request(server.port, "POST", path, {**csrf_headers(), **PROXIED})
    assert elsewhere.status == 204
    assert session_rows(server) == 4


async def test_the_editor_of_a_student_waiting_in_the_address_line_answers_at_once(live):
    """Pass (CLIENT_MAX_SANDBOXES=1): a second student's terminal waits in the address's line;
    their editor, asked for their files meanwhile, says at once that the address is full (a 429
    with the Spanish reason), instead of waiting behind the queued terminal, and starts no
    sandbox. Before, it waited for as long as the terminal did."""
    server = live(CLIENT_MAX_SANDBOXES="1", SANDBOX_RECONNECT_GRACE="0")
    a = await open_socket(server, server.session_cookie(), new_terminal_id())
    await until_event(a, "ready")
    b_cookie = server.session_cookie()
    b = await open_socket(server, b_cookie, new_terminal_id())
    await until_event(b, "queued")
    answer = await asyncio.to_thread(
        request, server.port, "GET", "/sandbox/archivos/", {"Cookie": b_cookie}
    )
    assert answer.status == 429
    assert "el máximo por dirección" in answer.body.decode()
    assert len(instance_containers(server.instance)) == 1
    await a.close()
    await until_event(b, "ready")
    await b.close()


async def test_an_ipv6_client_counts_by_its_48_not_by_each_address_or_64(live):
    """Pass (CLIENT_SESSION_BURST=2, proxy 127.0.0.1 trusted): two new sessions from two
    addresses in two /64s of one IPv6 /48 use its whole burst, and an address of a third /64 of
    the same /48 is refused (429); an address of another /48 still gets its session. Before,
    each address had a burst of its own, and then each /64 (a free tunnel broker's /48 is
    65,536 of them)."""
    server = live(
        CLIENT_SESSION_BURST="2", CLIENT_SESSIONS_PER_MINUTE="0.1", TRUSTED_PROXIES="127.0.0.1"
    )
    path = "/sandbox/sesion/"

    def post_from(address: str) -> int:
        headers = {**csrf_headers(), "X-Forwarded-For": address}
        return request(server.port, "POST", path, headers).status

    same_48 = ["2001:db8:1:2::1", "2001:db8:1:3::2", "2001:db8:1:abcd::3"]
    statuses = [await asyncio.to_thread(post_from, address) for address in same_48]
    assert statuses == [204, 204, 429]
    assert await asyncio.to_thread(post_from, "2001:db8:2:2::1") == 204
