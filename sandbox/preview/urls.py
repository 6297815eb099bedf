from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("puertos/", views.ports_panel, name="ports"),
    path("puertos/<int:host_port>/abrir/", views.open_preview, name="open_preview"),
    path("puertos/<int:host_port>/marco/", views.frame_preview, name="frame_preview"),
    path("puertos/<int:host_port>/compartir/", views.share_preview, name="share_preview"),
]
