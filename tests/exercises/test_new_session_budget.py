"""«Comprobar» and «Ver la solución» from a browser without a session make one: over the
address's new-session budget (tutorial.session_rate) they are refused before anything is made.
An attack review spent the budget and still got a progress row per request (300 in 8 s) and a
new sandbox per check, each answered 429 only after the view had run."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from exercises import views
from exercises.models import ExerciseProgress
from tutorial.session_rate import buckets as new_sessions

from .conftest import check_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def budget_spent(settings: Any, lessons_dir: Any) -> None:
    settings.CLIENT_SESSION_BURST = 1
    settings.CLIENT_SESSIONS_PER_MINUTE = 0.1
    assert new_sessions.take("127.0.0.1") == 0  # this address's one new session is spent


def reveal_url() -> str:
    return reverse("exercises:reveal", args=["practica", "crea-archivo"])


@pytest.mark.usefixtures("budget_spent")
def test_a_reveal_without_a_session_is_refused_before_its_progress_row() -> None:
    for _attempt in range(5):
        answer = Client().post(reveal_url())
        assert answer.status_code == 429
        assert "muchas sesiones nuevas" in answer.content.decode()
    assert ExerciseProgress.objects.count() == 0


@pytest.mark.usefixtures("budget_spent")
def test_a_check_without_a_session_is_refused_before_its_sandbox(monkeypatch: Any) -> None:
    # Refused before the view reaches the engine: no sandbox, no row. (The middleware's own 429
    # comes after the view, so the status alone would not tell.)
    def no_sandbox(*_args: Any) -> Any:
        raise AssertionError("the check reached the student's sandbox")

    monkeypatch.setattr(views, "_run_in_sandbox", no_sandbox)
    answer = Client().post(check_url("practica", "crea-archivo"))
    assert answer.status_code == 429
    assert ExerciseProgress.objects.count() == 0


def test_a_student_with_a_session_is_not_counted_again(settings: Any, lessons_dir: Any) -> None:
    settings.CLIENT_SESSION_BURST = 1
    settings.CLIENT_SESSIONS_PER_MINUTE = 0.1
    client = Client()
    assert client.post(reveal_url()).status_code == 200  # the address's one new session
    # Spent now, but this student's session exists: nothing new is made for them.
    assert new_sessions.take("127.0.0.1") > 0
    assert client.post(reveal_url()).status_code == 200
    assert ExerciseProgress.objects.filter(solution_revealed_at__isnull=False).count() == 1
    assert Client().post(reveal_url()).status_code == 429
