from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox import background, engine, hardening
from sandbox.docker_api import client as docker_client
from sandbox.models import SandboxRecord

from .conftest import eventually, wait_gone
from .test_reaper import ours, start_labelled

pytestmark = pytest.mark.docker


async def test_the_server_reaps_by_itself_once_started(settings) -> None:
    expired = start_labelled(ours(**{hardening.LABEL_EXPIRES: str(int(time.time()) - 1)}))
    engine.ensure_background_tasks()
    assert await wait_gone(expired)


async def test_the_server_keeps_its_sandboxes_heartbeat_fresh(settings) -> None:
    settings.SANDBOX_REAP_INTERVAL = 5
    sandbox = await engine.acquire("owner-heartbeat")  # starts the background tasks
    long_ago = timezone.now() - timedelta(hours=1)
    rows = SandboxRecord.objects.filter(container_id=sandbox.container_id)
    await rows.aupdate(heartbeat_at=long_ago)

    async def refreshed() -> bool:
        return (await rows.aget()).heartbeat_at > long_ago

    assert await eventually(refreshed, within=20)


async def test_starting_twice_on_one_loop_starts_once() -> None:
    engine.ensure_background_tasks()
    first = background.running_tasks()
    assert len(first) == 2
    engine.ensure_background_tasks()
    assert background.running_tasks() == first


async def test_docker_calls_run_in_the_dedicated_pool_not_on_the_loop() -> None:
    import threading

    loop_thread = threading.current_thread().name
    ran_on = await docker_client.call(lambda api: threading.current_thread().name)
    assert ran_on.startswith("muelle-docker")
    assert ran_on != loop_thread
