from __future__ import annotations

import pytest

from sandbox import engine

pytestmark = pytest.mark.docker


async def test_a_memory_bomb_is_oom_killed_and_reported() -> None:
    sandbox = await engine.acquire("owner-memory-bomb")
    before = await engine.state(sandbox)
    assert before.oom_killed is False and before.oom_kills == 0
    # tail keeps the last "line" in memory; /dev/zero has no newline, so it grows without end.
    result = await engine.run(sandbox, ["sh", "-c", "head -c 1G /dev/zero | tail"], timeout=30)

    assert result.timed_out is False
    assert result.exit_code == 137  # SIGKILL from the kernel's OOM killer
    state = await engine.state(sandbox)
    assert state.oom_killed is True
    assert state.oom_kills == 1
    assert state.running  # only the greedy process died
    after = await engine.run(sandbox, ["echo", "sigo aquí"])
    assert after.output == "sigo aquí\n".encode()
