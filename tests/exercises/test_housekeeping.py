"""Expired sessions and the anonymous progress no session can reach are removed
(exercises.housekeeping); a live student's rows and accounts' rows stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from exercises import housekeeping
from exercises.models import ExerciseProgress
from exercises.progress import SESSION_KEY

pytestmark = pytest.mark.django_db


def session_with(key: str, *, expired: bool = False) -> str:
    store = SessionStore()
    store[SESSION_KEY] = key
    store.create()
    if expired:
        Session.objects.filter(session_key=store.session_key).update(
            expire_date=timezone.now() - timedelta(seconds=1)
        )
    assert store.session_key is not None
    return store.session_key


def row(*, age: timedelta = timedelta(hours=2), **owner: object) -> None:
    made = ExerciseProgress.objects.create(lesson_slug="practica", exercise_id="uno", **owner)
    # started_at is set on creation: made older here, as a row of two hours ago.
    ExerciseProgress.objects.filter(pk=made.pk).update(started_at=timezone.now() - age)


def test_rows_of_expired_or_missing_sessions_go_and_the_others_stay() -> None:
    session_with("viva")
    expired = session_with("caducada", expired=True)
    session_with("")  # a session without progress holds no key
    for key in ("viva", "caducada", "sin-sesion"):
        row(anonymous_key=key)
    row(user=User.objects.create_user("con-cuenta"))

    # Written before the response saves the session that holds its key: kept for now.
    row(anonymous_key="recien-escrita", age=timedelta(seconds=5))

    assert housekeeping.prune() == 2

    left = set(ExerciseProgress.objects.values_list("anonymous_key", "user__username"))
    assert left == {("viva", None), ("recien-escrita", None), (None, "con-cuenta")}
    assert not Session.objects.filter(session_key=expired).exists()
    assert housekeeping.prune() == 0


def test_the_command_runs_the_same_pass() -> None:
    row(anonymous_key="sin-sesion")
    out = StringIO()
    call_command("prune_progress", stdout=out)
    assert "filas de progreso anónimo borradas: 1" in out.getvalue()
    assert not ExerciseProgress.objects.exists()
