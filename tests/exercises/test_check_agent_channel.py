"""Muelle's side of the check agent's channel, against a hostile peer on a real socket: whatever
comes back (huge frames, bad JSON, someone else's answer, output past the cap) is refused, never
trusted, and the engine's stream framing is undone correctly."""

from __future__ import annotations

import base64
import json
import socket
import struct

import pytest

from sandbox import check_agent


class HijackedStream:
    """What execs.exec_open hands back: a stream with its raw socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def close(self) -> None:
        self._sock.close()


def engine_frames(payload: bytes, kind: int = 1, size: int = 5) -> bytes:
    """payload as the engine sends an exec's stdout (kind 1) or stderr (2), in small pieces."""
    out = b""
    for start in range(0, len(payload), size):
        piece = payload[start : start + size]
        out += struct.pack(">BxxxL", kind, len(piece)) + piece
    return out


def agent_frame(message: object) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack(">I", len(body)) + body


@pytest.fixture
def channel_and_peer():
    ours, peer = socket.socketpair()
    channel = check_agent._Channel("exec-id", HijackedStream(ours))
    yield channel, peer
    channel.close()
    peer.close()


async def test_frames_split_across_engine_frames_with_stderr_between(channel_and_peer) -> None:
    channel, peer = channel_and_peer
    frame = agent_frame({"hello": "muelle-check-agent", "version": 1})
    peer.sendall(engine_frames(frame[:7]) + engine_frames(b"noise", kind=2))
    peer.sendall(engine_frames(frame[7:]))
    assert await channel.receive(4096) == {"hello": "muelle-check-agent", "version": 1}


@pytest.mark.parametrize(
    "sent",
    [
        struct.pack(">I", 50_000_000),  # a frame larger than any answer: refused unread
        struct.pack(">I", 9) + b"not json!",
        agent_frame(["a", "list"]),
    ],
)
async def test_oversized_or_malformed_frames_are_refused(channel_and_peer, sent) -> None:
    channel, peer = channel_and_peer
    peer.sendall(engine_frames(sent))
    with pytest.raises(check_agent.AgentUnavailable):
        await channel.receive(4096)


async def test_an_ended_stream_is_an_unavailable_agent(channel_and_peer) -> None:
    channel, peer = channel_and_peer
    assert not channel.gone()
    peer.close()
    assert channel.gone()
    with pytest.raises(check_agent.AgentUnavailable):
        await channel.receive(4096)


def result(output: bytes, code: object = 0) -> list[object]:
    return [code, base64.b64encode(output).decode(), False, False]


@pytest.mark.parametrize(
    "answer",
    [
        {"id": 8, "self": [5, 0], "results": [result(b"ok")]},  # another request's answer
        {"id": 7, "self": [5, 0], "results": [result(b"x" * 2000)]},  # past the cap
        {"id": 7, "self": [5, 0], "results": [result(b"ok"), result(b"ok")]},  # one too many
        {"id": 7, "self": [5, 0], "results": [result(b"ok", code=999)]},
        {"id": 7, "self": [5, 0], "results": [[0, "%%%", False, False]]},  # not base64
        {"id": 7, "self": "me", "results": [result(b"ok")]},
    ],
)
async def test_answers_that_do_not_fit_the_request_are_refused(channel_and_peer, answer) -> None:
    channel, peer = channel_and_peer
    peer.sendall(engine_frames(agent_frame(answer)))
    with pytest.raises(check_agent.AgentUnavailable):
        await check_agent._ask(channel, 7, [("sh", "true")], 5.0, 1024)
    # The request went out as one length-prefixed JSON frame, the command as a plain value.
    (size,) = struct.unpack(">I", peer.recv(4))
    sent = json.loads(peer.recv(size))
    assert sent == {"id": 7, "steps": [["sh", "true"]], "limit": 5.0, "cap": 1024}


async def test_a_well_formed_answer_is_read(channel_and_peer) -> None:
    channel, peer = channel_and_peer
    peer.sendall(engine_frames(agent_frame({"id": 3, "self": [9, 0], "results": [result(b"hi")]})))
    reply = await check_agent._ask(channel, 3, [("sh", "echo hi")], 5.0, 1024)
    assert reply.agent == (9, 0)
    assert reply.steps == [check_agent.StepOutput(0, b"hi", False, False)]
