"""`docker save` through the gateway (sandbox/gateway/handlers_images.save). The engine copies
every layer of the saved images, uncompressed, to its own disk before it streams them, and
removes the copy only when the stream ends: a reader that never reads held that space, unseen
by any measure (an attack review held many GiB with saves that were never read). So: one save
at a time per student, at most DOCKER_GATEWAY_MAX_DISK of images in one, and a save is refused
while the student is past the limit like any other write."""

from __future__ import annotations

import dataclasses
import select
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.gateway import lifecycle
from sandbox.gateway.config import GatewayConfig

from .conftest import DOCKER, IMAGE, MiB
from .test_disk_unseen import PYTHON

pytestmark = pytest.mark.docker


def with_disk(gateway_config: GatewayConfig, limit: int) -> Iterator[GatewayConfig]:
    config = dataclasses.replace(gateway_config, max_disk=limit)
    lifecycle.configure(config)
    yield config
    lifecycle.configure(gateway_config)


@pytest.fixture
def small_disk(gateway_config: GatewayConfig) -> Iterator[GatewayConfig]:
    yield from with_disk(gateway_config, 24 * MiB)


@pytest.fixture
def roomy_disk(gateway_config: GatewayConfig) -> Iterator[GatewayConfig]:
    yield from with_disk(gateway_config, 2048 * MiB)


def test_a_save_of_more_than_the_disk_limit_is_refused(small_disk: GatewayConfig, student: Any):
    refusal = student.refused("save", "-o", str(student.home / "grande.tar"), PYTHON)
    assert "«docker save» las copia enteras en el disco del servidor" in refusal
    assert "hasta 24 MiB a la vez" in refusal
    # A small one still works: the tar's first bytes come back.
    saved = subprocess.run(
        [DOCKER, "save", IMAGE], capture_output=True, env=student.env(), timeout=90
    )
    assert saved.returncode == 0 and len(saved.stdout) > 512, saved.stderr


def test_a_second_save_waits_for_the_first_to_end(roomy_disk: GatewayConfig, student: Any):
    # The first one's output is never read: its stream stops, and the engine keeps its copy.
    held = subprocess.Popen(
        [DOCKER, "save", PYTHON], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=student.env()
    )
    try:
        # Its stream has begun (the tar's first bytes): it holds the student's save.
        assert held.stdout is not None
        ready, _, _ = select.select([held.stdout], [], [], 90)
        assert ready and held.stdout.read(512), held.stderr and held.stderr.read()
        refusal = student.refused("save", "-o", str(student.home / "otra.tar"), IMAGE)
        assert "Ya estás guardando imágenes con «docker save»" in refusal
    finally:
        held.kill()
        held.wait(30)
    # Once the first is gone, the next save goes through.
    deadline = time.monotonic() + 60
    while student.docker("save", "-o", str(student.home / "otra.tar"), IMAGE).returncode != 0:
        assert time.monotonic() < deadline, "the save slot was never given back"
        time.sleep(0.5)
