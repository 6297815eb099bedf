from __future__ import annotations

from django.urls import path, register_converter

from lessons import views


class LessonSlugConverter:
    """Lowercase letters, digits and hyphens only: anything else is a 404 before any view runs."""

    regex = "[a-z0-9-]{1,80}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(LessonSlugConverter, "lesson_slug")

app_name = "lessons"
urlpatterns = [
    path("", views.index, name="index"),
    path("glosario/", views.glossary_page, name="glossary"),
    path("lecciones/<lesson_slug:slug>/", views.lesson_detail, name="detail"),
    path(
        "lecciones/<lesson_slug:slug>/recursos/<path:asset_path>",
        views.lesson_asset,
        name="asset",
    ),
]
