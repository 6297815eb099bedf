from __future__ import annotations

from django.apps import AppConfig


class TutorialConfig(AppConfig):
    name = "tutorial"
    verbose_name = "Muelle"

    def ready(self) -> None:
        from tutorial import checks  # noqa: F401  (registers the production checks)
