"""System checks for the sandbox settings: a malformed size or user fails at start-up, not at
the first student's click."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from tutorial.env import parse_size

# A unix socket path must fit in sun_path (108 bytes with its NUL). A gateway socket is
# <DOCKER_GATEWAY_SOCKET_DIR>/<folder of at most 17 characters>/docker.sock.
SOCKET_PATH_MAX = 107
GATEWAY_SOCKET_SUFFIX = len("/") + 17 + len("/docker.sock")


@register()
def check_sandbox_settings(app_configs: Any, **kwargs: Any) -> list[Error]:
    errors = []
    # tutorial/settings.py already refuses a bad variable; this catches a value set in code (a
    # settings override, a local settings module), with the same grammar. Zero is refused too:
    # a tmpfs of size 0 has no limit at all.
    for name in (
        "SANDBOX_MEMORY",
        "SANDBOX_WORKDIR_SIZE",
        "SANDBOX_TMP_SIZE",
        "SANDBOX_LOG_MAX_SIZE",
    ):
        value = getattr(settings, name)
        try:
            size = parse_size(value)
        except ValueError:
            size = 0
        if size <= 0:
            errors.append(
                Error(
                    f"{name} must be a size like 256m or 1g, got {value!r}.",
                    id="sandbox.E001",
                )
            )
    if not re.fullmatch(r"\d+(:\d+)?", settings.SANDBOX_USER):
        errors.append(
            Error(
                f"SANDBOX_USER must be numeric uid:gid, got {settings.SANDBOX_USER!r}.",
                hint="The course image's user «alumno» is 1000:1000.",
                id="sandbox.E002",
            )
        )
    if not settings.SANDBOX_WORKDIR.startswith("/"):
        errors.append(Error("SANDBOX_WORKDIR must be an absolute path.", id="sandbox.E003"))
    if settings.SANDBOX_WARM_POOL > settings.SANDBOX_MAX_LIVE:
        errors.append(
            Error(
                "SANDBOX_WARM_POOL is larger than SANDBOX_MAX_LIVE.",
                hint="The warm pool counts towards SANDBOX_MAX_LIVE.",
                id="sandbox.E004",
            )
        )
    if settings.DOCKER_GATEWAY_ENABLED:
        longest = len(str(settings.DOCKER_GATEWAY_SOCKET_DIR).encode()) + GATEWAY_SOCKET_SUFFIX
        if longest > SOCKET_PATH_MAX:
            errors.append(
                Error(
                    f"DOCKER_GATEWAY_SOCKET_DIR is too long for a unix socket path "
                    f"({longest} bytes with the socket's name; the limit is {SOCKET_PATH_MAX}).",
                    hint="Choose a shorter folder, e.g. /run/muelle-gateway or /var/lib/muelle.",
                    id="sandbox.E005",
                )
            )
    return errors
