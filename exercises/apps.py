from __future__ import annotations

from django.apps import AppConfig


class ExercisesConfig(AppConfig):
    name = "exercises"
    verbose_name = "Ejercicios"

    def ready(self) -> None:
        # Connects the login signal that carries anonymous progress over to the account, adds
        # the exercises' own checks to check_lessons and fills the lesson page's exercises slot
        # (lessons/ never imports exercises/).
        from exercises import lesson_part, signals  # noqa: F401
        from exercises.catalog import lesson_problems
        from lessons import extra_checks, page_parts

        extra_checks.register(lesson_problems)
        page_parts.register("exercises", lesson_part.render)
