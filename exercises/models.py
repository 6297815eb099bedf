"""A student's progress on each exercise, and how often each check fails (for instructors).

Exercises themselves live in the lesson files, not here: rows refer to them by lesson slug and
exercise id, so editing a lesson never needs a migration.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class ExerciseProgress(models.Model):
    """One student's state on one exercise. A student is either an account (`user`) or, before
    signing up, an anonymous key kept inside their session's data (`anonymous_key`). The key is
    stored in the session rather than being the session key itself because Django gives the
    session a new key at login; the data, and so this key, survives that, and the login signal
    moves these rows to the account (exercises.signals)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="exercise_progress",
        verbose_name=_("usuario"),
    )
    # NULL, not "", for accounts: the unique constraint below must ignore them.
    anonymous_key = models.CharField(  # noqa: DJ001
        _("clave anónima"), max_length=64, null=True, blank=True, db_index=True
    )
    lesson_slug = models.CharField(_("lección"), max_length=200)
    exercise_id = models.CharField(_("ejercicio"), max_length=100)
    attempts = models.PositiveIntegerField(_("intentos"), default=0)
    started_at = models.DateTimeField(_("empezado"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completado"), null=True, blank=True)
    solution_revealed_at = models.DateTimeField(_("solución vista"), null=True, blank=True)

    class Meta:
        verbose_name = _("progreso en un ejercicio")
        verbose_name_plural = _("progreso en los ejercicios")
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, anonymous_key__isnull=True)
                | Q(user__isnull=True, anonymous_key__isnull=False),
                name="progress_has_exactly_one_owner",
            ),
            models.UniqueConstraint(
                fields=["user", "lesson_slug", "exercise_id"],
                condition=Q(user__isnull=False),
                name="progress_unique_per_user",
            ),
            models.UniqueConstraint(
                fields=["anonymous_key", "lesson_slug", "exercise_id"],
                condition=Q(anonymous_key__isnull=False),
                name="progress_unique_per_anonymous",
            ),
        ]
        indexes = [models.Index(fields=["lesson_slug", "exercise_id"])]

    def __str__(self) -> str:
        return f"{self.lesson_slug}/{self.exercise_id}"

    @property
    def done(self) -> bool:
        return self.completed_at is not None


class ClassOverview(ExerciseProgress):
    """Admin entry for the class view (per-lesson counts); no table of its own."""

    class Meta:
        proxy = True
        verbose_name = _("resumen de la clase")
        verbose_name_plural = _("resumen de la clase")


class CheckFailure(models.Model):
    """How many times a check has failed, across every student: the admin's "checks that fail
    most". `check_index` is the check's position in the exercise's `comprobaciones`."""

    lesson_slug = models.CharField(_("lección"), max_length=200)
    exercise_id = models.CharField(_("ejercicio"), max_length=100)
    check_index = models.PositiveSmallIntegerField(_("comprobación"))
    failures = models.PositiveIntegerField(_("fallos"), default=0)
    last_failed_at = models.DateTimeField(_("último fallo"), auto_now=True)

    class Meta:
        verbose_name = _("fallos de una comprobación")
        verbose_name_plural = _("fallos de las comprobaciones")
        constraints = [
            models.UniqueConstraint(
                fields=["lesson_slug", "exercise_id", "check_index"], name="one_counter_per_check"
            )
        ]
        ordering = [F("failures").desc()]

    def __str__(self) -> str:
        return f"{self.lesson_slug}/{self.exercise_id}#{self.check_index + 1}"
