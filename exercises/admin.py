"""Admin: raw progress rows, check failure counters, and the class view for instructors
("Resumen de la clase" on the admin index, a proxy model whose list page is the class view)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from exercises.models import CheckFailure, ClassOverview, ExerciseProgress
from exercises.stats import class_figures


@admin.register(ExerciseProgress)
class ExerciseProgressAdmin(admin.ModelAdmin):
    list_display = [
        "lesson_slug",
        "exercise_id",
        "user",
        "attempts",
        "completed_at",
        "solution_revealed_at",
    ]
    list_filter = ["lesson_slug", "exercise_id"]
    search_fields = ["user__username", "lesson_slug", "exercise_id"]
    readonly_fields = ["anonymous_key", "started_at"]


@admin.register(CheckFailure)
class CheckFailureAdmin(admin.ModelAdmin):
    list_display = ["lesson_slug", "exercise_id", "check_index", "failures", "last_failed_at"]
    list_filter = ["lesson_slug"]


@admin.register(ClassOverview)
class ClassOverviewAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Staff see the class figures; they hold no personal data beyond counts.
        return bool(request.user.is_active and request.user.is_staff)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": _("Resumen de la clase"),
            "lessons": class_figures(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "exercises/admin_class_overview.html", context)
