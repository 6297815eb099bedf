"""Sandbox tests run against the real engine and the real course image, under a test-only
SANDBOX_INSTANCE, and remove every container they made (by that instance label). Sandboxes get
their Docker gateway (settings.DOCKER_GATEWAY_ENABLED) in a test-only folder; whatever students
made through it is removed after each test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from sandbox import engine, hardening
from sandbox import gateway as docker_gateway
from sandbox.gateway import config as gateway_config
from sandbox.gateway import lifecycle

TEST_INSTANCE = f"pytest-sandbox-{os.getpid()}"
# Short: a unix socket path has at most 108 bytes.
GATEWAY_DIR = Path(f"/tmp/muelle-sbx-{os.getpid()}")  # noqa: S108


def _containers_of(instance: str) -> list[dict[str, Any]]:
    return engine.call_sync(
        lambda api: api.containers(
            all=True, filters={"label": [f"{hardening.LABEL_INSTANCE}={instance}"]}
        )
    )


def remove_instance_containers(instance: str = TEST_INSTANCE) -> None:
    for item in _containers_of(instance):
        # 404: gone meanwhile; 409: a background removal is already at it.
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            engine.call_sync(lambda api, cid=item["Id"]: api.remove_container(cid, force=True))


@pytest.fixture(autouse=True)
def sandbox_settings(settings: Any, transactional_db: None) -> Iterator[Any]:
    # transactional_db: the Docker pool's threads write the table on their own connections.
    settings.SANDBOX_INSTANCE = TEST_INSTANCE
    settings.SANDBOX_WARM_POOL = 0
    settings.SANDBOX_MAX_LIVE = 10
    settings.DOCKER_GATEWAY_ENABLED = True
    settings.DOCKER_GATEWAY_SOCKET_DIR = GATEWAY_DIR
    # The gateway reads these settings (tests/gateway may have set its own configuration).
    previous = gateway_config.override()
    lifecycle.configure(None)
    yield settings
    lifecycle.configure(previous)


@pytest.fixture(autouse=True)
async def stop_background(
    sandbox_settings: Any, request: pytest.FixtureRequest
) -> AsyncIterator[None]:
    yield
    await engine.stop_background_tasks()
    if request.node.get_closest_marker("docker"):
        # Whatever the test's students made through their gateway (also when a test never
        # released its sandbox): removed by the instance's label, as the reaper would.
        await docker_gateway.sweep_orphans([])


@pytest.fixture(autouse=True, scope="session")
def prune_test_containers() -> Iterator[None]:
    yield
    remove_instance_containers()
    shutil.rmtree(GATEWAY_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def prune_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if request.node.get_closest_marker("docker"):
        remove_instance_containers()


def inspect(container_id: str) -> dict[str, Any]:
    return engine.call_sync(lambda api: api.inspect_container(container_id))


def exists(container_id: str) -> bool:
    found = engine.call_sync(lambda api: api.containers(all=True, filters={"id": container_id}))
    return bool(found)


async def wait_gone(container_id: str, within: float = 15.0) -> bool:
    """Removal runs in the background: poll (a bound, not a speed assertion)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not exists(container_id):
            return True
        await asyncio.sleep(0.1)
    return not exists(container_id)


async def until(condition: Callable[[], bool], within: float = 15.0) -> bool:
    """Waits for something that happens in the background (a bound, not a speed assertion)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def read_until(tty: engine.TTY, marker: bytes, within: float = 15.0) -> bytes:
    """What a terminal printed, up to and including `marker` (a bound, not a speed assertion)."""
    seen = b""

    async def pump() -> None:
        nonlocal seen
        while marker not in seen:
            chunk = await tty.read()
            if not chunk:
                return
            seen += chunk

    await asyncio.wait_for(pump(), within)
    return seen
