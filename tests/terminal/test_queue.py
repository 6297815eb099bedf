from __future__ import annotations

import pytest

from harness.tabs import make_session

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_a_full_server_queues_the_student_and_lets_them_in_when_a_place_frees(
    open_tab, session_key, settings
):
    settings.SANDBOX_MAX_LIVE = 1
    settings.SANDBOX_RECONNECT_GRACE = 0
    first = await open_tab(session_key)

    waiting = await open_tab(await make_session(), ready=False)
    queued = await waiting.event("queued")
    assert queued["position"] == 1
    assert "cola" in queued["message"]

    await first.hang_up()  # no grace: the first sandbox is removed

    await waiting.event("ready", timeout=60)
    assert b"dentro" in await waiting.run("echo den''tro", "fin-dentro")


async def test_leaving_the_queue_takes_the_student_out_of_it(open_tab, session_key, settings):
    settings.SANDBOX_MAX_LIVE = 1
    await open_tab(session_key)
    waiting = await open_tab(await make_session(), ready=False)
    await waiting.event("queued")

    await waiting.hang_up()

    from sandbox import capacity

    assert capacity.get().queue == []
