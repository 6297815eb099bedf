"""The gateway tests' students (real `docker` CLI through their own gateway), for attacks.

The fixtures are the gateway tests' own, except the configuration: a session fixture imported
here is a second instance, so it gets a folder and an instance name of its own (sharing theirs,
one teardown would remove the other's folder)."""

from __future__ import annotations

import pytest

from sandbox.gateway.config import GatewayConfig
from tests.gateway.conftest import *  # noqa: F403
from tests.gateway.conftest import small_gateway_config


@pytest.fixture(scope="session")
def gateway_config(tmp_path_factory: pytest.TempPathFactory) -> GatewayConfig:
    return small_gateway_config("gwa")
