"""System checks that stop a production start on an unsafe configuration.

They carry the `deploy` tag, so `manage.py check --deploy` (which scripts/serve runs before a
production start) fails on them, while a developer's DEBUG run is not blocked.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


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
