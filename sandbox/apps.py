from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Entornos de práctica"

    def ready(self) -> None:
        # Only registration here: no event loop exists yet under ASGI, and management commands
        # must not touch Docker. The reaper and the warm pool start on the server's loop through
        # engine.ensure_background_tasks(); `manage.py prune_sandboxes` runs before it starts.
        from sandbox import checks  # noqa: F401
