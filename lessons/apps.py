from __future__ import annotations

from django.apps import AppConfig


class LessonsConfig(AppConfig):
    name = "lessons"
    verbose_name = "Lecciones"

    def ready(self) -> None:
        # Connects its setting_changed receiver before any test changes a setting.
        from lessons import page_cache  # noqa: F401
