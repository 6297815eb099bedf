from __future__ import annotations

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_a_frame_over_the_limit_closes_1009(open_tab, session_key, settings):
    tab = await open_tab(session_key)

    await tab.type(b"x" * (settings.TERMINAL_MAX_FRAME + 1))

    assert await tab.closed() == 1009
    assert tab.events[-1]["type"] == "notice"


async def test_a_text_frame_over_the_limit_closes_1009(open_tab, session_key, settings):
    tab = await open_tab(session_key)

    await tab.control({"type": "ping", "t": "x" * settings.TERMINAL_MAX_FRAME})

    assert await tab.closed() == 1009


async def test_an_input_flood_closes_only_that_connection_with_4008(
    open_tab, session_key, settings
):
    calm = await open_tab(session_key)
    noisy = await open_tab(session_key)

    for _ in range(settings.TERMINAL_INPUT_RATE * 2):
        await noisy.type(b":")
        if noisy.close_code is not None or not noisy.communicator.output_queue.empty():
            await noisy.quiet_for(0)
        if noisy.close_code is not None:
            break

    assert await noisy.closed() == 4008
    flood_notice = noisy.events[-1]
    assert flood_notice["type"] == "notice"
    assert "demasiados" in flood_notice["message"]
    assert b"tranquilo" in await calm.run("echo tran''quilo", "fin-calma")
    assert calm.close_code is None


async def test_a_session_over_its_terminal_cap_is_refused_with_4002(
    open_tab, session_key, settings
):
    settings.SANDBOX_MAX_TERMINALS_PER_SESSION = 2
    await open_tab(session_key)
    await open_tab(session_key)

    third = await open_tab(session_key, ready=False)

    assert await third.closed() == 4002
    assert "máximo" in third.events[-1]["message"]


async def test_a_closed_tab_in_its_grace_period_makes_room_for_a_new_one(
    open_tab, session_key, settings
):
    settings.SANDBOX_MAX_TERMINALS_PER_SESSION = 2
    await open_tab(session_key)
    closed = await open_tab(session_key)
    await closed.hang_up()

    third = await open_tab(session_key)

    assert b"cabe" in await third.run("echo ca''be", "fin-cabe")


async def test_ping_is_answered_with_pong(open_tab, session_key):
    tab = await open_tab(session_key)

    await tab.control({"type": "ping", "t": 12345})

    assert (await tab.event("pong"))["t"] == 12345


async def test_a_byte_flood_in_few_frames_closes_4008_and_a_big_paste_does_not(
    open_tab, session_key, settings
):
    # Frames alone would let TERMINAL_INPUT_RATE full-size frames a second through.
    settings.TERMINAL_INPUT_BYTES_RATE = 8 * 1024
    settings.TERMINAL_INPUT_BURST = 64 * 1024
    paster = await open_tab(session_key)
    # A paste within the burst (40 KiB, in 10 frames) is accepted and reaches the shell.
    for _ in range(10):
        await paster.type(b"#" + b"x" * (4 * 1024 - 2) + b"\r")  # a comment line each
    assert b"pegado" in await paster.run("echo peg''ado", "fin-pegado")
    assert paster.close_code is None

    flooder = await open_tab(session_key)
    chunk = b"#" + b"y" * (16 * 1024 - 2) + b"\r"
    for _ in range(12):  # 192 KiB at once: 12 frames, far under the frame rate
        await flooder.type(chunk)
        if flooder.close_code is not None or not flooder.communicator.output_queue.empty():
            await flooder.quiet_for(0)
        if flooder.close_code is not None:
            break
    assert await flooder.closed() == 4008
    assert "demasiados" in flooder.events[-1]["message"]
