"""The project folder in a real sandbox: the editor's files in ~/proyecto are what a student's
container sees through `-v /home/alumno/proyecto:...`, live; the folder's volume goes with the
sandbox (released, warm and never handed out, or after a crash through the reaper), also when a
student's container still mounted it."""

from __future__ import annotations

import logging
from functools import partial

import pytest

from sandbox import engine, pool, reaper, workspace
from sandbox.models import SandboxRecord

from .conftest import eventually, inspect, wait_gone

pytestmark = pytest.mark.docker


async def sh(sandbox: engine.Sandbox, script: str) -> str:
    result = await engine.run(sandbox, ["bash", "-c", script], timeout=90)
    assert result.exit_code == 0, result.output.decode()
    return result.output.decode()


def project_volume_of(container_id: str) -> str:
    return f"muelle-proyecto-{inspect(container_id)['Config']['Labels']['muelle.gateway']}"


def volume_exists(name: str) -> bool:
    found = engine.call_sync(lambda api: api.volumes(filters={"name": name}))
    return any(v["Name"] == name for v in (found or {}).get("Volumes") or [])


async def test_the_editors_file_is_served_live_by_a_students_container() -> None:
    sandbox = await engine.acquire("owner-bind-live")
    assert await sh(sandbox, "stat -c '%U %a' ~/proyecto") == "alumno 755\n"

    version = await workspace.write_file(sandbox, "proyecto/index.html", "<h1>Hola</h1>\n", "")
    await sh(
        sandbox,
        "docker run -d --name web -v /home/alumno/proyecto:/www:ro muelle/busybox sleep 300",
    )
    assert await sh(sandbox, "docker exec web cat /www/index.html") == "<h1>Hola</h1>\n"

    await workspace.write_file(sandbox, "proyecto/index.html", "<h1>Adiós</h1>\n", version)
    assert await sh(sandbox, "docker exec web cat /www/index.html") == "<h1>Adiós</h1>\n"
    tree = await workspace.list_tree(sandbox)
    assert "proyecto/index.html" in [entry.path for entry in tree.entries]


async def test_release_removes_the_project_volume_even_while_a_container_used_it() -> None:
    sandbox = await engine.acquire("owner-bind-release")
    volume = project_volume_of(sandbox.container_id)
    await sh(sandbox, "docker run -d -v /home/alumno/proyecto:/p muelle/busybox sleep 300")
    assert volume_exists(volume)

    await engine.release(sandbox)

    assert await wait_gone(sandbox.container_id)
    assert await eventually(lambda: _gone(volume))


async def test_a_warm_sandbox_removed_unassigned_takes_its_project_volume(settings) -> None:
    settings.SANDBOX_WARM_POOL = 1
    assert await pool.fill_once() == 1
    row = await SandboxRecord.objects.aget(state=SandboxRecord.State.POOL)
    volume = project_volume_of(row.container_id)
    assert volume_exists(volume)
    await engine.remove_now(row.container_id)
    assert not volume_exists(volume)


async def _crash() -> str:
    """A sandbox removed by hand (not through Muelle), its row forgotten; returns its volume."""
    sandbox = await engine.acquire("owner-bind-crash")
    volume = project_volume_of(sandbox.container_id)
    engine.call_sync(lambda api: api.remove_container(sandbox.container_id, force=True))
    await SandboxRecord.objects.filter(container_id=sandbox.container_id).adelete()
    return volume


async def test_after_a_crash_the_reaper_removes_the_project_volume(caplog) -> None:
    # The volume sweep is engine-wide on purpose (a crashed instance's leftovers have no live
    # owner), so another test process's reaper can take this volume first. The crash is
    # played again until this reaper's own pass is the one that removed it: its log names it.
    for _attempt in range(5):
        volume = await _crash()
        if not volume_exists(volume):
            continue
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="sandbox.gateway"):
            await reaper.reap(orphan_grace=0)
        assert await eventually(partial(_gone, volume))
        if volume in caplog.text:
            break
    else:
        pytest.fail("in 5 tries another reaper always removed the volume before this one")


async def _gone(volume: str) -> bool:
    return not volume_exists(volume)
