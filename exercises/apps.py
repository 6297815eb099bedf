from __future__ import annotations

from django.apps import AppConfig


class ExercisesConfig(AppConfig):
    name = "exercises"
    verbose_name = "Ejercicios"

    def ready(self) -> None:
        # Connects the login signal that carries anonymous progress over to the account.
        from exercises import signals  # noqa: F401
