"""System checks that stop a production start on an unsafe configuration.

They carry the `deploy` tag, so `manage.py check --deploy` (which scripts/serve runs before a
production start) fails on them, while a developer's DEBUG run is not blocked.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register  # noqa: A004


@register(Tags.security, deploy=True)
def check_channel_layer(app_configs: Any, **kwargs: Any) -> list[Error]:
    backend = str(settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", ""))
    if backend.endswith("InMemoryChannelLayer"):
        return [
            Error(
                "The in-memory channel layer only works inside one process.",
                hint="Set REDIS_URL so that Channels uses channels-redis in production.",
                id="muelle.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_allowed_hosts(app_configs: Any, **kwargs: Any) -> list[Error]:
    if "*" in settings.ALLOWED_HOSTS:
        return [
            Error(
                "ALLOWED_HOSTS contains '*': any Origin would pass the websocket origin check.",
                hint="List the real host names in ALLOWED_HOSTS.",
                id="muelle.E002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_websocket_origin_validation(app_configs: Any, **kwargs: Any) -> list[Error]:
    from channels.security.websocket import OriginValidator

    module_name, _, attr = settings.ASGI_APPLICATION.rpartition(".")
    application = getattr(import_module(module_name), attr)
    mapping = getattr(application, "application_mapping", {})
    websocket_app = mapping.get("websocket")
    if websocket_app is not None and not isinstance(websocket_app, OriginValidator):
        return [
            Error(
                "Websocket routes are not wrapped in AllowedHostsOriginValidator.",
                hint="Wrap the websocket router in tutorial/asgi.py with "
                "AllowedHostsOriginValidator(AuthMiddlewareStack(...)).",
                id="muelle.E003",
            )
        ]
    return []


def _hardening_problems() -> list[str]:
    problems = []
    if settings.SANDBOX_NETWORK != "none":
        problems.append(f"SANDBOX_NETWORK is {settings.SANDBOX_NETWORK!r}, not 'none'")
    if not settings.SANDBOX_READ_ONLY:
        problems.append("SANDBOX_READ_ONLY is off")
    user = settings.SANDBOX_USER.split(":", 1)[0].strip()
    if user in {"", "0", "root"}:
        problems.append(f"SANDBOX_USER {settings.SANDBOX_USER!r} runs sandboxes as root")
    if settings.SANDBOX_PIDS_LIMIT > 4096:
        problems.append(f"SANDBOX_PIDS_LIMIT {settings.SANDBOX_PIDS_LIMIT} is effectively no limit")
    return problems


@register(Tags.security, deploy=True)
def check_sandbox_hardening(app_configs: Any, **kwargs: Any) -> list[Error]:
    return [
        Error(
            f"Sandbox hardening switched off: {problem}.",
            hint="Students run arbitrary code: keep the hardening defaults in production.",
            id="muelle.E004",
        )
        for problem in _hardening_problems()
    ]


# Linux ≥ 6.6: 0 lets every process use io_uring, 1 only the privileged and the members of
# kernel.io_uring_group (-1: none), 2 no one. Older kernels have no switch.
IO_URING_SWITCH = Path("/proc/sys/kernel/io_uring_disabled")
IO_URING_GROUP = Path("/proc/sys/kernel/io_uring_group")


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


@register(Tags.security, deploy=True)
def check_io_uring(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """With the disk limit on: a student's process can register a file with an io_uring ring,
    close the ring's descriptor and write on through it, unseen by the disk measure
    (docs/gateway.md, «Huecos que quedan»). Docker 20.10's default seccomp profile lets
    containers use io_uring. A warning, not an error: it is the server's kernel, not Muelle's
    configuration, and the brake (DOCKER_GATEWAY_MIN_FREE_DISK) still keeps the disk from
    filling. Only this machine's kernel is read: with SANDBOX_PLACEMENT=swarm, each node's
    is the deployer's to set (docs/despliegue.md)."""
    if not (settings.DOCKER_GATEWAY_ENABLED and settings.DOCKER_GATEWAY_MAX_DISK):
        return []
    value = _read(IO_URING_SWITCH)
    # A student chooses their container's groups (--user 0:<gid>): a group opens it to them.
    if value == "2" or (value == "1" and _read(IO_URING_GROUP) in ("", "-1")):
        return []
    said = f"kernel.io_uring_disabled is {value}" if value else "this kernel has no switch"
    return [
        Warning(
            f"io_uring is open to the students' containers and terminals ({said}, on this "
            "machine): a process can write to disk past the disk measure through a registered "
            "ring.",
            hint="Set kernel.io_uring_disabled=2 on every server that runs a students' engine "
            "(Linux 6.6 or later; docs/despliegue.md), or give the engine a seccomp profile "
            "without io_uring.",
            id="muelle.W001",
        )
    ]
