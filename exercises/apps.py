from __future__ import annotations

from django.apps import AppConfig


class ExercisesConfig(AppConfig):
    name = "exercises"
    verbose_name = "Ejercicios"

    def ready(self) -> None:
        # Connects the login signal that carries anonymous progress over to the account, and
        # adds the exercises' own checks to check_lessons (lessons/ never imports exercises/).
        from exercises import signals  # noqa: F401
        from exercises.catalog import lesson_problems
        from lessons import extra_checks

        extra_checks.register(lesson_problems)
