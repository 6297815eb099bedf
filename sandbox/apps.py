from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Entornos de práctica"

    def ready(self) -> None:
        # Only registration here: no event loop exists yet under ASGI, and management commands
        # must not touch Docker. The reaper and the warm pool start on the server's loop from the
        # ASGI lifespan start-up (tutorial.asgi), and the lifespan shutdown removes this
        # process's sandboxes (sandbox.shutdown); `manage.py prune_sandboxes` runs before start.
        from sandbox import (
            checks,  # noqa: F401
            session_end,  # noqa: F401  (logout closes the student's terminals)
        )
