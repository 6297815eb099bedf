"""URLs of the workspace editor's API, included by sandbox/urls.py (namespace "sandbox")."""

from __future__ import annotations

from django.urls import path

from sandbox import workspace_views

urlpatterns = [
    path("archivos/", workspace_views.tree, name="workspace-tree"),
    path("archivos/leer/", workspace_views.read, name="workspace-read"),
    path("archivos/guardar/", workspace_views.save, name="workspace-save"),
    path("archivos/crear/", workspace_views.create, name="workspace-create"),
    path("archivos/renombrar/", workspace_views.rename, name="workspace-rename"),
    path("archivos/borrar/", workspace_views.delete, name="workspace-delete"),
]
