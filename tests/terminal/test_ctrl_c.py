from __future__ import annotations

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_ctrl_c_stops_an_output_flood(open_tab, session_key):
    tab = await open_tab(session_key)
    await tab.type("yes\r")
    await tab.expect(b"y\r\ny\r\ny\r\ny\r\n")
    await tab.quiet_for(0)  # drain what is queued so far
    flooded = len(tab.output)

    await tab.type(b"\x03")
    # The shell is back: a command typed after the interrupt runs.
    await tab.type("echo de''tenido\r")
    end = await tab.expect(b"detenido", timeout=20, start=flooded)

    # ...and no `y` line arrives once the flood is over.
    after = await tab.quiet_for(1.0)
    assert b"y\r\n" not in after
    assert b"y\r\n" not in bytes(tab.output[end:])
    assert tab.close_code is None
