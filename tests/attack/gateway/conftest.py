"""The gateway tests' students (real `docker` CLI through their own gateway), for attacks.

The fixtures are the gateway tests' own, except the configuration: a session fixture imported
here is a second instance, so it gets a folder and an instance name of its own (sharing theirs,
one teardown would remove the other's folder)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox.gateway.config import GatewayConfig
from tests.gateway.conftest import *  # noqa: F403
from tests.gateway.conftest import MiB


@pytest.fixture(scope="session")
def gateway_config(tmp_path_factory: pytest.TempPathFactory) -> GatewayConfig:
    # Unix socket paths are limited to 108 bytes: keep the folder short.
    folder = Path(f"/tmp/muelle-gwa-{os.getpid()}")  # noqa: S108
    folder.mkdir(exist_ok=True)
    return GatewayConfig(
        socket_dir=folder,
        instance=f"pytest-attack-{os.getpid()}",
        container_memory=64 * MiB,
        container_cpus=0.5,
        container_pids=64,
        max_containers=4,
        max_images=3,
        max_volumes=3,
        max_networks=2,
        max_total_memory=160 * MiB,
        pull_allowlist=frozenset({"hello-world"}),
        build_memory=128 * MiB,
        build_pids=64,
        build_context_max=4 * MiB,
    )
