from __future__ import annotations

from django.urls import path

from sandbox import browser_session, views, workspace_urls
from sandbox.preview import urls as preview_urls

app_name = "sandbox"
urlpatterns = [
    path("salud/", views.salud, name="salud"),
    path("sesion/", browser_session.start_session, name="session"),
    *preview_urls.urlpatterns,
    *workspace_urls.urlpatterns,
]
