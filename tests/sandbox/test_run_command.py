from __future__ import annotations

import pytest

from sandbox import engine

pytestmark = pytest.mark.docker


@pytest.fixture
async def sandbox() -> engine.Sandbox:
    return await engine.acquire("owner-run")


async def test_it_runs_echo(sandbox: engine.Sandbox) -> None:
    result = await engine.run(sandbox, ["echo", "hola"])
    assert result == engine.RunResult(
        exit_code=0, output=b"hola\n", timed_out=False, truncated=False
    )


async def test_argv_never_goes_through_a_shell(sandbox: engine.Sandbox) -> None:
    result = await engine.run(sandbox, ["echo", "$HOME;", "id", "`whoami`"])
    assert result.output == b"$HOME; id `whoami`\n"


async def test_it_reports_the_exit_code_and_stderr(sandbox: engine.Sandbox) -> None:
    result = await engine.run(sandbox, ["ls", "/no-existe"])
    assert result.exit_code == 2
    assert b"No such file or directory" in result.output


async def test_it_feeds_stdin(sandbox: engine.Sandbox) -> None:
    result = await engine.run(sandbox, ["wc", "-c"], stdin=b"x" * 100_000)
    assert result.output.strip() == b"100000"
    assert result.exit_code == 0


async def test_it_rejects_a_command_line_string(sandbox: engine.Sandbox) -> None:
    with pytest.raises(ValueError):
        await engine.run(sandbox, "echo hola")  # type: ignore[arg-type]
