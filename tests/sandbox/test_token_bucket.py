"""The byte rate's bucket (sandbox/token_bucket.py) grants amounts in the order they were asked
for: a large charge is not starved by another stream of the same student that takes each 64 KiB
as soon as it is there (the whole-diff review's case: a `docker cp`'s member charge behind a
`docker logs -f`)."""

from __future__ import annotations

import asyncio

from sandbox.token_bucket import RateLimit

RATE = 256 * 1024
PIECE = 64 * 1024


async def test_a_large_charge_is_granted_beside_a_stream_taking_every_piece():
    bucket = RateLimit(RATE)
    stop = asyncio.Event()
    pieces = 0

    async def stream() -> None:
        nonlocal pieces
        while not stop.is_set():
            await bucket.take(PIECE)
            pieces += 1

    streaming = asyncio.create_task(stream())
    try:
        await asyncio.sleep(0.5)  # the stream has drained the bucket and keeps it drained
        # A liveness bound, not a timing one: it is granted after about 1 s; before the fix it
        # never was (still waiting after 8 s).
        await asyncio.wait_for(bucket.take(300 * 1024), timeout=60)
    finally:
        stop.set()
        streaming.cancel()
    assert pieces > 0  # the stream did run meanwhile


async def test_one_piece_over_the_rate_passes_at_once_when_the_bucket_is_full():
    # As before: the first read of a stream goes out at once, whatever its size, and the
    # next one waits for what it owes.
    bucket = RateLimit(1024)
    await asyncio.wait_for(bucket.take(PIECE), timeout=30)
    assert bucket.tokens < 1024 - PIECE + 1024  # taken whole, owing about 63 s of the rate
    assert not bucket.take_now(1)
