from __future__ import annotations

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_a_typed_command_runs_and_its_output_comes_back(open_tab, session_key):
    tab = await open_tab(session_key)
    ready = tab.events[0]
    assert ready["type"] == "ready"
    assert ready["reattached"] is False
    assert ready["fresh"] is False
    assert ready["message"]

    output = await tab.run("echo ho''la", "fin-eco")

    assert b"\nhola\n" in output
