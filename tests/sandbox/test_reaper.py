from __future__ import annotations

import time

import pytest
from django.core.management import call_command

from sandbox import engine, hardening, reaper
from sandbox.models import SandboxRecord

from .conftest import TEST_INSTANCE, exists

pytestmark = pytest.mark.docker


def start_labelled(labels: dict[str, str]) -> str:
    def create(api) -> str:  # noqa: ANN001
        container = api.create_container(
            image="muelle/sandbox:latest",
            command=["sleep", "infinity"],
            labels=labels,
            host_config=api.create_host_config(network_mode="none"),
        )
        api.start(container["Id"])
        return container["Id"]

    return engine.call_sync(create)


def remove(container_id: str) -> None:
    engine.call_sync(lambda api: api.remove_container(container_id, force=True))


def ours(**overrides: str) -> dict[str, str]:
    now = int(time.time())
    labels = {
        hardening.LABEL_MANAGED: "1",
        hardening.LABEL_INSTANCE: TEST_INSTANCE,
        hardening.LABEL_ROLE: hardening.ROLE,
        hardening.LABEL_CREATED: str(now),
        hardening.LABEL_EXPIRES: str(now + 3600),
        hardening.LABEL_STORE: hardening.store_id(),
    }
    labels.update(overrides)
    return labels


async def test_it_removes_a_managed_container_without_a_row() -> None:
    orphan = start_labelled(ours())
    report = await reaper.reap(orphan_grace=0)
    assert not exists(orphan)
    assert "sin registro" in [why for _name, why in report.removed]


async def test_a_fresh_container_without_a_row_gets_a_grace_period() -> None:
    young = start_labelled(ours())
    await reaper.reap()  # default grace: it may be a row being written right now
    assert exists(young)


async def test_it_removes_a_container_whose_expiry_label_has_passed() -> None:
    past = str(int(time.time()) - 5)
    expired = start_labelled(ours(**{hardening.LABEL_EXPIRES: past}))
    await reaper.reap()
    assert not exists(expired)


async def test_it_leaves_foreign_containers_alone() -> None:
    past = str(int(time.time()) - 5)
    foreign = [
        start_labelled({}),  # not Muelle's at all
        start_labelled(ours(**{hardening.LABEL_INSTANCE: "otra-instancia"})),
        start_labelled(ours(**{hardening.LABEL_ROLE: "gateway-student"})),
        # recorded by another database (another test run, a dev server): not ours to judge
        start_labelled(ours(**{hardening.LABEL_STORE: "0123456789ab"})),
    ]
    try:
        await reaper.reap(orphan_grace=0)
        assert all(exists(cid) for cid in foreign)
        # An expired label is final though, whoever's database recorded it.
        stranger_expired = start_labelled(
            ours(**{hardening.LABEL_STORE: "0123456789ab", hardening.LABEL_EXPIRES: past})
        )
        await reaper.reap(orphan_grace=0)
        assert not exists(stranger_expired)
    finally:
        for cid in foreign:
            remove(cid)


async def test_it_keeps_a_live_sandbox_and_removes_an_idle_one(settings) -> None:
    live = await engine.acquire("owner-reaper-live")
    idle = await engine.acquire("owner-reaper-idle")
    long_ago = idle.created_at.replace(year=idle.created_at.year - 1)
    await SandboxRecord.objects.filter(container_id=idle.container_id).aupdate(
        last_activity=long_ago
    )

    report = await reaper.reap()

    assert exists(live.container_id)
    assert not exists(idle.container_id)
    assert [why for _name, why in report.removed] == ["inactivo"]
    assert not await SandboxRecord.objects.filter(container_id=idle.container_id).aexists()


async def test_it_removes_the_sandboxes_of_a_crashed_process() -> None:
    sandbox = await engine.acquire("owner-reaper-crash")
    long_ago = sandbox.created_at.replace(year=sandbox.created_at.year - 1)
    # What a crashed server leaves: rows nobody refreshes any more.
    await SandboxRecord.objects.filter(container_id=sandbox.container_id).aupdate(
        holder="a-server-that-crashed", heartbeat_at=long_ago
    )
    report = await reaper.reap()
    assert not exists(sandbox.container_id)
    assert [why for _name, why in report.removed] == ["su proceso ya no existe"]


async def test_it_forgets_rows_whose_container_is_gone() -> None:
    sandbox = await engine.acquire("owner-reaper-row")
    remove(sandbox.container_id)
    report = await reaper.reap(orphan_grace=0)
    assert report.forgotten_rows == 1
    assert not await SandboxRecord.objects.filter(container_id=sandbox.container_id).aexists()


def test_prune_all_removes_every_sandbox_of_this_instance(capsys) -> None:  # noqa: ANN001
    from asgiref.sync import async_to_sync

    first = async_to_sync(engine.acquire)("owner-prune-1")
    second = async_to_sync(engine.acquire)("owner-prune-2")
    call_command("prune_sandboxes", "--all")
    out = capsys.readouterr().out
    assert "Retirados 2 entornos de práctica" in out
    assert not exists(first.container_id) and not exists(second.container_id)
    call_command("prune_sandboxes")
    assert "No había entornos de práctica que retirar" in capsys.readouterr().out
