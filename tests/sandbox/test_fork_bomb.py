from __future__ import annotations

import pytest

from sandbox import engine

from .conftest import exists

pytestmark = pytest.mark.docker

# The bomb gets a session of its own: engine.run's `timeout -s KILL` ends the whole process group
# of the command when it runs out (likely on a loaded machine, where forking at the limit is slow),
# and the test is about the bomb living on inside its pids limit, not about that kill.
FORK_BOMB = [
    "bash",
    "-c",
    "setsid bash -c 'bomb() { bomb | bomb & }; bomb' & sleep 2; echo sobrevive",
]


async def test_a_fork_bomb_hits_the_pids_limit_and_the_rest_keeps_working() -> None:
    victim = await engine.acquire("owner-fork-bomb")
    bystander = await engine.acquire("owner-fork-bystander")

    result = await engine.run(victim, FORK_BOMB, timeout=20, max_output=64 * 1024)

    assert b"fork: retry: Resource temporarily unavailable" in result.output
    processes = engine.call_sync(lambda api: api.top(victim.container_id))["Processes"]
    assert 100 < len(processes) <= 128  # the bomb lives on, capped at SANDBOX_PIDS_LIMIT
    # The engine, the other sandboxes and this server carry on.
    assert (await engine.run(bystander, ["echo", "hola"])).output == b"hola\n"
    assert (await engine.engine_status()).available
    # And the bombed sandbox can still be removed.
    await engine.remove_now(victim.container_id)
    assert not exists(victim.container_id)
