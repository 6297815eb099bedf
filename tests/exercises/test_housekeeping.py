"""Expired sessions and the anonymous progress no session can reach are removed
(exercises.housekeeping); a live student's rows and accounts' rows stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
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


def row(**owner: object) -> None:
    ExerciseProgress.objects.create(lesson_slug="practica", exercise_id="uno", **owner)


def test_rows_of_expired_or_missing_sessions_go_and_the_others_stay() -> None:
    session_with("viva")
    expired = session_with("caducada", expired=True)
    session_with("")  # a session without progress holds no key
    for key in ("viva", "caducada", "sin-sesion"):
        row(anonymous_key=key)
    row(user=User.objects.create_user("con-cuenta"))

    assert housekeeping.prune() == 2

    left = set(ExerciseProgress.objects.values_list("anonymous_key", "user__username"))
    assert left == {("viva", None), (None, "con-cuenta")}
    assert not Session.objects.filter(session_key=expired).exists()
    assert housekeeping.prune() == 0
