"""Hostile control frames on the terminal websocket of the real server (python -m tutorial.server,
real engine): each refused with a Spanish notice and a close code, the terminal released."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from harness.live_server import LiveServer, instance_containers
from harness.tabs import new_terminal_id

from .hostile_ws import open_socket, strict_json, until_closed, until_event

pytestmark = [pytest.mark.docker]

NESTED = "[" * 1000  # 1 KB: an unhandled RecursionError in the consumer, before
HOSTILE = [
    NESTED,
    '{"type": "ping", "t": ' + "[" * 500 + "]" * 500 + "}",
    '{"type": "ping", "t": NaN}',
    '{"type": "ping", "t": Infinity}',
    '{"type": "ping", "t": -Infinity}',
    '{"type": "ping", "t": 1e400}',  # parses as inf without NaN/Infinity literals
    '{"type": "ping", "t": {"a": 1}}',
    '{"type": "ping", "t": "' + "x" * 65 + '"}',
    '{"type": "ping", "t": 1, "extra": true}',
    '{"type": "resize", "rows": "24", "cols": 80}',
    '{"type": "resize", "rows": 24}',
    '{"type": "exec", "cmd": "id"}',
    '{"type": "ping", "t": "' + "x" * 2000 + '"}',
    "[]",
    "no es json",
    '{"type": "ping", "t": ' + "9" * 5000 + "}",  # over Python's int digit limit
]


def wait_for_no_containers(instance: str, within: float = 30) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not instance_containers(instance):
            return True
        time.sleep(0.2)
    return False


async def refused(server: LiveServer, cookie: str, payload: str) -> tuple[int | None, list]:
    ws = await open_socket(server, cookie, new_terminal_id())
    await until_event(ws, "ready")
    assert instance_containers(server.instance)
    await ws.send(payload)
    events = await until_closed(ws)
    return ws.close_code, events


async def test_every_malformed_control_frame_closes_1008_with_a_notice_and_releases_it(live):
    """Pass: for each hostile frame (1,000 nested `[`, NaN, Infinity, 1e400, nested values, long
    strings, unknown types, extra keys, wrong types, a 5,000-digit number...) sent to a ready
    terminal, the server answers a Spanish notice and closes 1008; the session's sandbox is then
    removed (its only terminal was released, grace or not). 16 in a row from one session — the
    cap is 3 terminals — and the session still opens a terminal afterwards."""
    server = live(SANDBOX_RECONNECT_GRACE="60")
    cookie = server.session_cookie()
    for payload in HOSTILE:
        code, events = await refused(server, cookie, payload)
        assert code == 1008, (payload[:40], code, events)
        assert events[-1]["type"] == "notice", events
        assert "no entiende" in events[-1]["message"]
        assert wait_for_no_containers(server.instance), payload[:40]
    ws = await server.open_terminal(cookie, new_terminal_id())
    await ws.close()


async def test_pings_get_valid_json_pongs(live):
    """Pass: pings whose `t` is an integer, a finite float, a short string or null are answered
    with a pong that strict JSON parses, echoing `t`; the terminal stays open."""
    server = live()
    ws = await open_socket(server, server.session_cookie(), new_terminal_id())
    await until_event(ws, "ready")
    for stamp in (1733260000000, 1.5, "abc", None, -0.0):
        await ws.send(json.dumps({"type": "ping", "t": stamp}))
        pong = await until_event(ws, "pong")
        assert pong == {"type": "pong", "t": stamp}
    await ws.send(json.dumps({"type": "resize", "rows": 900, "cols": 80}))  # ignored, not hostile
    await ws.send(b"echo si''gue\r")
    seen = b""
    while b"sigue" not in seen:
        frame = await asyncio.wait_for(ws.recv(), 30)
        if isinstance(frame, bytes):
            seen += frame
        else:
            strict_json(frame)
    assert ws.close_code is None
    await ws.close()


async def test_an_oversized_frame_gets_a_spanish_notice_before_1009_and_reattaches(live):
    """Pass: a 100 KiB binary frame (over TERMINAL_MAX_FRAME, 64 KiB: uvicorn's own parser
    refuses it) brings a Spanish notice, then close 1009; reconnecting with the same `t`
    reattaches to the same shell (`ready` with reattached true)."""
    server = live()
    cookie = server.session_cookie()
    terminal_id = new_terminal_id()
    ws = await open_socket(server, cookie, terminal_id)
    await until_event(ws, "ready")
    await ws.send(b"x" * (100 * 1024))
    events = await until_closed(ws)
    assert ws.close_code == 1009
    assert events and events[-1]["type"] == "notice", events
    assert "demasiado texto" in events[-1]["message"]
    again = await open_socket(server, cookie, terminal_id)
    ready = await until_event(again, "ready")
    assert ready["reattached"] is True
    await again.close()
