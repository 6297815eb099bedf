"""Connections kept between preview requests (sandbox.ports.table.PortTable.keep_idle) are
closed once they have waited IDLE_SECONDS, by the table's one sweep timer: each one on its own
time, the sweep coming back while any is left, and again for connections kept later. The
connections are the preview's real client protocol on real loopback sockets; the table is a
real PortTable whose student publishes one port (no engine is asked anything here)."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.ports import table as port_table
from sandbox.ports.bindings import Published
from sandbox.ports.table import Idle, PortTable, Running
from sandbox.preview.container_http import ContainerConnection

HOST_PORT = 8080
IDLE = 1.0  # the second connection is kept IDLE/2 later: that much slack for a slow sweep


@pytest.fixture
async def peer_port():
    """A loopback server that keeps every connection open until the client closes it."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


def _table() -> PortTable:
    table = PortTable(
        owner="ana",
        engine=None,  # type: ignore[arg-type]  # nothing here asks the engine
        label_filters=[],
        shown_name=str,
        sandbox_folder=lambda: None,
    )
    table.running["c1"] = Running(
        container_id="c1",
        name="web",
        started_at="",
        carrier=None,  # type: ignore[arg-type]
        address="",
        published=[Published(80, "tcp", "", HOST_PORT)],
        exposed=[],
    )
    return table


async def _connected(port: int) -> ContainerConnection:
    loop = asyncio.get_running_loop()
    _transport, conn = await loop.create_connection(ContainerConnection, "127.0.0.1", port)
    return conn


async def _until_closed(conn: ContainerConnection) -> None:
    while conn.is_open():
        await asyncio.sleep(0.02)


async def test_kept_connections_close_on_their_own_time_and_later_ones_too(peer_port, monkeypatch):
    monkeypatch.setattr(port_table, "IDLE_SECONDS", IDLE)
    table = _table()
    first, second = await _connected(peer_port), await _connected(peer_port)
    table.keep_idle(HOST_PORT, Idle(first, 0.0))
    await asyncio.sleep(IDLE / 2)
    table.keep_idle(HOST_PORT, Idle(second, 0.0))

    await asyncio.wait_for(_until_closed(first), 10)
    # The sweep that closed the first one left the second, kept later, for its own time.
    assert second.is_open()
    assert [item.connection for item in table.idle[("c1", HOST_PORT)]] == [second]
    await asyncio.wait_for(_until_closed(second), 10)
    assert table.idle == {}

    # A connection kept after the table emptied is swept again.
    third = await _connected(peer_port)
    table.keep_idle(HOST_PORT, Idle(third, 0.0))
    assert third.is_open()
    await asyncio.wait_for(_until_closed(third), 10)
    assert table.idle == {}


async def test_a_connection_taken_before_its_time_is_not_closed_by_the_sweep(
    peer_port, monkeypatch
):
    monkeypatch.setattr(port_table, "IDLE_SECONDS", IDLE)
    table = _table()
    taken, left = await _connected(peer_port), await _connected(peer_port)
    table.keep_idle(HOST_PORT, Idle(left, 0.0))
    table.keep_idle(HOST_PORT, Idle(taken, 0.0))
    kept = table.take_idle(HOST_PORT)
    assert kept is not None and kept.connection is taken
    await asyncio.wait_for(_until_closed(left), 10)
    assert taken.is_open()  # in use by a request: not the sweep's
    taken.close()
