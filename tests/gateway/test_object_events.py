"""The second events stream's pieces on their own: which filters open it, which lines are the
student's, and how the two streams are mixed (the live test with two students is in
test_isolation_between_students.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from sandbox.gateway import object_events
from sandbox.gateway.names import Namespace
from sandbox.gateway.wire import LineBatch, merged_batches

ANA = Namespace("ana", "pruebas")
BEA = Namespace("bea", "pruebas")


def _event(kind: str, actor_id: str, **attributes: str) -> bytes:
    return json.dumps(
        {"Type": kind, "Action": "create", "Actor": {"ID": actor_id, "Attributes": attributes}}
    ).encode()


@pytest.mark.parametrize(
    ("filters", "wanted"),
    [
        ({}, {"type": ["network", "volume"]}),
        ({"type": ["container"]}, None),
        ({"type": ["volume", "container"]}, {"type": ["volume"]}),
        ({"event": ["create"]}, {"event": ["create"], "type": ["network", "volume"]}),
        ({"container": ["x"]}, None),
        ({"image": ["x"]}, None),
        ({"label": ["a=b"]}, None),
        ({"network": ["mk_red"]}, {"network": ["mk_red"], "type": ["network", "volume"]}),
    ],
)
def test_the_second_stream_opens_only_when_a_network_or_volume_event_could_pass(
    filters: dict[str, list[str]], wanted: dict[str, list[str]] | None
) -> None:
    assert object_events.object_filters(filters) == wanted


def test_only_the_students_own_networks_and_volumes_are_kept() -> None:
    mine_net = _event("network", "f00", name=ANA.object_prefix + "red", type="bridge")
    mine_vol = _event("volume", ANA.object_prefix + "datos", driver="local")
    assert object_events.owned(ANA, mine_net) and object_events.owned(ANA, mine_vol)
    others = [
        _event("network", "f00", name=BEA.object_prefix + "red", type="bridge"),
        _event("volume", BEA.object_prefix + "datos", driver="local"),
        # Named like the student's in the wrong place: a network's ID, a volume's attribute.
        _event("network", ANA.object_prefix + "red", name="red"),
        _event("volume", "datos", name=ANA.object_prefix + "datos"),
        # Other types, even with the student's prefix in them, are the label stream's.
        _event("container", ANA.object_prefix + "web", name=ANA.object_prefix + "web"),
        _event("image", "sha256:00", name=ANA.image_prefix + "app"),
        b"not json",
        b"[1, 2]",
        b'{"Type": "network", "Actor": {"ID": "x", "Attributes": ["name"]}}',
        b'{"Type": "volume", "Actor": "m"}',
        json.dumps({"Type": "volume", "Actor": {"ID": 7}}).encode(),
        _event("network", "f00", name=ANA.object_prefix[:-1] + "red"),
    ]
    assert [line for line in others if object_events.owned(ANA, line)] == []


async def _source(
    batches: list[LineBatch], error: Exception | None = None, hold: asyncio.Event | None = None
) -> AsyncIterator[LineBatch]:
    for batch in batches:
        yield batch
    if hold is not None:
        await hold.wait()
    if error is not None:
        raise error


async def _all(batches: AsyncIterator[LineBatch]) -> list[bytes]:
    return [line async for batch in batches for line in batch.lines]


async def test_the_merge_ends_when_both_have_and_keeps_what_each_sent() -> None:
    late = asyncio.Event()
    first = _source([LineBatch([b"a1"]), LineBatch([b"a2"])], hold=late)
    second = _source([LineBatch([b"b1"])])
    task = asyncio.create_task(_all(merged_batches(first, second)))
    await asyncio.sleep(0.05)
    assert not task.done()  # the first stream is still open: so is the merge
    late.set()
    assert sorted(await task) == [b"a1", b"a2", b"b1"]


async def test_an_error_of_the_relayed_stream_ends_the_merge_and_one_of_the_other_does_not() -> (
    None
):
    with pytest.raises(ConnectionResetError):
        await _all(merged_batches(_source([], ConnectionResetError()), _source([])))
    lines = await _all(
        merged_batches(_source([LineBatch([b"a"])]), _source([LineBatch([b"b"])], OSError()))
    )
    assert sorted(lines) == [b"a", b"b"]


async def test_closing_the_merge_stops_reading_both_sources() -> None:
    stopped: list[str] = []

    async def endless(name: str) -> AsyncIterator[LineBatch]:
        try:
            while True:
                yield LineBatch([name.encode()])
                await asyncio.sleep(0)
        finally:
            stopped.append(name)

    merged = merged_batches(endless("a"), endless("b"))
    assert (await anext(merged)).lines
    await merged.aclose()
    await asyncio.sleep(0)
    assert sorted(stopped) == ["a", "b"]


async def test_a_long_line_in_pieces_is_never_cut_by_the_other_streams_lines() -> None:
    # A line past LINE_CAP comes as a batch of `rest` and ends in the next batch's first line:
    # a line of the other stream between the two pieces broke the CLI's JSON.
    other_sent = asyncio.Event()

    async def long_line() -> AsyncIterator[LineBatch]:
        yield LineBatch([], b'{"Action":"start","x":"aaa')
        await other_sent.wait()
        yield LineBatch([b'bbb"}', b'{"Action":"die"}'])

    async def other() -> AsyncIterator[LineBatch]:
        yield LineBatch([b'{"Action":"create"}'])
        other_sent.set()

    pieces = []
    async for batch in merged_batches(long_line(), other()):
        pieces.extend([*batch.lines, *([batch.rest] if batch.rest else [])])
    assert pieces[:2] == [b'{"Action":"start","x":"aaa', b'bbb"}']
    assert sorted(pieces[2:]) == [b'{"Action":"create"}', b'{"Action":"die"}']
