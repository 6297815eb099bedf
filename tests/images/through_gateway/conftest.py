"""A student's gateway with the production defaults, for the smoke checks of the stand-ins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox.gateway.config import GatewayConfig
from tests.gateway.conftest import (  # noqa: F401  (fixtures used by the tests here)
    _gateway_config_for_this_test,
    course_images,
    gateway_loop,
    make_student,
    other_student,
    student,
)


@pytest.fixture(scope="session")
def gateway_config() -> GatewayConfig:
    # The production defaults (limits, quotas, capabilities); only the socket folder and the
    # instance are the test's own.
    folder = Path(f"/tmp/muelle-gwi-{os.getpid()}")  # noqa: S108
    folder.mkdir(exist_ok=True)
    return GatewayConfig(socket_dir=folder, instance=f"pytest-images-{os.getpid()}")


@pytest.fixture(scope="module")
def images(image_of) -> None:  # noqa: ANN001
    for repository in ("nginx", "busybox", "mariadb", "postgres", "redis", "python"):
        image_of(repository)
