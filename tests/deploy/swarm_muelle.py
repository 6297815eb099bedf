"""A Swarm test bed (harness/swarm_bed.py) for a test module, and Muelle pointed at it for one
test and put back after."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.swarm_bed import SwarmBed, load_images, run, swarm_bed
from sandbox import engine
from sandbox.gateway import config as gateway_config
from sandbox.gateway import lifecycle
from sandbox.models import SandboxRecord


@contextlib.contextmanager
def bed_with_images(
    tag: str, slots: int, images: Iterable[str], gateway_dir: Path
) -> Iterator[SwarmBed]:
    """A 3-node bed named by `tag`, with `images` on every node; afterwards nothing of it is
    left (its network namespaces, its folder) nor of the tests' gateway folder."""
    folder = Path(tempfile.mkdtemp(prefix="muelle-swarm-", dir="/tmp"))  # noqa: S108
    try:
        with swarm_bed(folder, tag, slots=slots) as bed:
            load_images(bed, list(images))
            yield bed
    finally:
        shutil.rmtree(gateway_dir, ignore_errors=True)
        assert f"msw{tag}n" not in run("ip", "netns", "list")
        assert not folder.exists()


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
