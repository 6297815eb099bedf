"""sandbox/checks.py: malformed sandbox settings stop the start with a named error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox.checks import check_sandbox_settings


def ids(settings: Any) -> set[str]:
    return {error.id for error in check_sandbox_settings(None)}


def test_the_shipped_settings_pass(settings: Any) -> None:
    assert ids(settings) == set()


def test_a_malformed_memory_size_is_named(settings: Any) -> None:
    settings.SANDBOX_MEMORY = "mucha"
    assert "sandbox.E001" in ids(settings)


def test_a_gateway_folder_too_long_for_a_socket_path_is_refused(settings: Any) -> None:
    settings.DOCKER_GATEWAY_ENABLED = True
    settings.DOCKER_GATEWAY_SOCKET_DIR = Path("/srv/" + "muy-largo/" * 8)  # 84 bytes: 114 in all
    assert "sandbox.E005" in ids(settings)
    settings.DOCKER_GATEWAY_SOCKET_DIR = Path("/srv/" + "muy-largo/" * 7)  # 74 bytes: 104 in all
    assert "sandbox.E005" not in ids(settings)


def test_the_length_does_not_matter_with_the_gateway_off(settings: Any) -> None:
    settings.DOCKER_GATEWAY_ENABLED = False
    settings.DOCKER_GATEWAY_SOCKET_DIR = Path("/srv/" + "muy-largo/" * 12)
    assert "sandbox.E005" not in ids(settings)
