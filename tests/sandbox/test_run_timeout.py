from __future__ import annotations

import pytest

from sandbox import engine

pytestmark = pytest.mark.docker


async def test_the_timeout_kills_the_command() -> None:
    sandbox = await engine.acquire("owner-timeout")
    result = await engine.run(sandbox, ["sleep", "100"], timeout=1)
    assert result.timed_out is True
    assert result.exit_code is None
    # Killed inside the container, not just abandoned by us.
    left = await engine.run(sandbox, ["ps", "-eo", "args"])
    assert b"sleep 100" not in left.output
    assert left.exit_code == 0


async def test_a_quick_command_does_not_count_as_timed_out() -> None:
    sandbox = await engine.acquire("owner-timeout-quick")
    result = await engine.run(sandbox, ["sh", "-c", "exit 124"], timeout=5)
    assert result.timed_out is False
    assert result.exit_code == 124
