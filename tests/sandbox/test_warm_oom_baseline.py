"""OOM kills are counted from the sandbox's memory cgroup as the host sees it, without a
`docker exec` (docker_api/containers.py): no exec per terminal start in a burst, and a sandbox
whose pids limit is full can't hide a kill from its student."""

from __future__ import annotations

import pytest

from sandbox import engine
from sandbox.docker_api import containers as docker_containers

pytestmark = pytest.mark.docker


async def test_an_oom_kill_is_counted_even_when_no_process_can_start(settings) -> None:
    settings.SANDBOX_PIDS_LIMIT = 24
    sandbox = await engine.acquire("owner-oom-full")
    assert (await engine.state(sandbox)).oom_kills == 0
    bomb = await engine.run(sandbox, ["sh", "-c", "head -c 1G /dev/zero | tail"], timeout=30)
    assert bomb.exit_code == 137  # the kernel's OOM killer
    # Then every pid the sandbox may have is taken by sleepers (left behind by the timeout).
    await engine.run(
        sandbox, ["sh", "-c", "for i in $(seq 60); do sleep 600 & done; wait"], timeout=3
    )
    # An exec can't start in there any more: reading the counter the old way sees nothing...
    assert engine.call_sync(docker_containers._exec_oom_kills, sandbox.container_id) == 0

    # ...the engine's state still reports the kill.
    state = await engine.state(sandbox)
    assert state.running
    assert state.oom_kills == 1
    assert state.oom_killed is True
