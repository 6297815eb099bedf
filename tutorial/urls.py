from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sandbox/", include("sandbox.urls")),
    path("ejercicios/", include("exercises.urls")),
    path("", include("lessons.urls")),
]

handler404 = "lessons.views.not_found"
