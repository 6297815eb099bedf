"""OOM kills are counted from the sandbox's memory cgroup as the host sees it, without a
`docker exec` (docker_api/containers.py): no exec per terminal start in a burst, and a sandbox
whose pids limit is full can't hide a kill from its student."""

from __future__ import annotations

import subprocess

import pytest

from sandbox import engine
from sandbox.docker_api import containers as docker_containers

pytestmark = pytest.mark.docker


async def test_an_oom_kill_is_counted_from_the_host_cgroup_without_an_exec(settings) -> None:
    settings.SANDBOX_PIDS_LIMIT = 24
    sandbox = await engine.acquire("owner-oom-full")
    assert (await engine.state(sandbox)).oom_kills == 0
    bomb = await engine.run(sandbox, ["sh", "-c", "head -c 1G /dev/zero | tail"], timeout=30)
    assert bomb.exit_code == 137  # the kernel's OOM killer
    # The counter comes from the host's cgroup files: the same figure without any exec.
    assert docker_containers._host_oom_kills(sandbox.container_id, _pid(sandbox)) == 1
    # ...the engine's state still reports the kill.
    state = await engine.state(sandbox)
    assert state.running
    assert state.oom_kills == 1
    assert state.oom_killed is True


def _pid(sandbox) -> int:  # noqa: ANN001
    shown = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Pid}}", sandbox.container_id],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(shown.stdout)
