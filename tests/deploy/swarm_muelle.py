"""Muelle pointed at a Swarm test bed (harness/swarm_bed.py) for one test, and put back after."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from harness.swarm_bed import SwarmBed
from sandbox import engine
from sandbox.gateway import config as gateway_config
from sandbox.gateway import lifecycle
from sandbox.models import SandboxRecord


@contextlib.asynccontextmanager
async def muelle_on_bed(
    settings: Any, bed: SwarmBed, instance: str, gateway_dir: Path
) -> AsyncIterator[SwarmBed]:
    """Sandboxes placed by the bed's Swarm, over mutual TLS to every node, with the students'
    Docker gateway on; every sandbox of `instance` is removed afterwards."""
    settings.SANDBOX_INSTANCE = instance
    settings.SANDBOX_WARM_POOL = 0
    settings.SANDBOX_MAX_LIVE = 10
    settings.DOCKER_GATEWAY_ENABLED = True
    settings.DOCKER_GATEWAY_SOCKET_DIR = gateway_dir
    for name, value in bed.muelle_settings().items():
        setattr(settings, name, value)
    previous = gateway_config.override()
    lifecycle.configure(None)
    try:
        yield bed
    finally:
        async for row in SandboxRecord.objects.filter(instance=instance):
            with contextlib.suppress(Exception):
                await engine.remove_now(row.container_id)
        await engine.stop_background_tasks()
        lifecycle.configure(previous)
