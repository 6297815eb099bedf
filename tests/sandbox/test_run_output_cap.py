from __future__ import annotations

import pytest

from sandbox import engine

pytestmark = pytest.mark.docker


async def test_output_beyond_the_cap_is_cut_and_marked() -> None:
    sandbox = await engine.acquire("owner-cap")
    result = await engine.run(sandbox, ["yes", "muelle"], max_output=4096, timeout=5)
    assert result.truncated is True
    assert len(result.output) == 4096
    assert result.output.startswith(b"muelle\nmuelle\n")
    assert result.exit_code is None


async def test_output_under_the_cap_is_whole() -> None:
    sandbox = await engine.acquire("owner-cap-small")
    result = await engine.run(sandbox, ["seq", "1", "1000"], max_output=4096)
    assert result.truncated is False
    assert result.output.splitlines()[-1] == b"1000"
    assert len(result.output) == 3893
