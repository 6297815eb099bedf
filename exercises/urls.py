from __future__ import annotations

from django.urls import path

from exercises import accounts, views

app_name = "exercises"
urlpatterns = [
    # Account pages first: "cuenta" is therefore not usable as a lesson slug with exercises
    # named entrar/crear/salir (docs/exercises.md).
    path("cuenta/entrar/", accounts.login_view, name="login"),
    path("cuenta/crear/", accounts.signup, name="signup"),
    path("cuenta/salir/", accounts.logout_view, name="logout"),
    path("<slug:lesson_slug>/reiniciar/", views.reset_lesson, name="reset"),
    path("<slug:lesson_slug>/<slug:exercise_id>/", views.exercise_page, name="exercise"),
    path("<slug:lesson_slug>/<slug:exercise_id>/comprobar/", views.check, name="check"),
    path("<slug:lesson_slug>/<slug:exercise_id>/solucion/", views.reveal_solution, name="reveal"),
]
