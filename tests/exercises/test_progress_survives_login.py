"""Anonymous progress is kept when the student signs up or logs in (new session key)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from exercises import progress
from exercises.models import ExerciseProgress
from sandbox import engine
from sandbox.terminals import owner_key
from tests.exercises.conftest import HTMX, check_url

pytestmark = pytest.mark.django_db(transaction=True)


def exercise_page(lesson: str, exercise: str) -> str:
    return reverse("exercises:exercise", args=[lesson, exercise])


@pytest.mark.docker
async def test_a_real_pass_survives_signup_and_a_later_login(
    async_client, lessons_dir, remove_sandboxes
) -> None:
    await async_client.post(check_url("practica", "crea-archivo"), **HTMX)
    before = (await async_client.asession()).session_key
    sandbox = await engine.get(owner_key(before))
    assert sandbox is not None
    await engine.run(sandbox, ["/bin/sh", "-c", "echo hola > ~/hola.txt"])
    response = await async_client.post(check_url("practica", "crea-archivo"), **HTMX)
    assert 'data-result="aprobado"' in response.content.decode()

    response = await async_client.post(
        reverse("exercises:signup"),
        {"username": "ana", "password1": "un-puerto-seguro-42", "password2": "un-puerto-seguro-42"},
    )
    assert response.status_code == 302
    after = (await async_client.asession()).session_key
    assert after != before  # Django rotated the session key at login

    page = (await async_client.get(exercise_page("practica", "crea-archivo"))).content.decode()
    assert 'data-done="true"' in page
    user = await User.objects.aget(username="ana")
    row = await ExerciseProgress.objects.aget(user=user, exercise_id="crea-archivo")
    assert row.completed_at is not None and row.anonymous_key is None and row.attempts == 2

    await async_client.post(reverse("exercises:logout"))
    page = (await async_client.get(exercise_page("practica", "crea-archivo"))).content.decode()
    assert 'data-done="false"' in page  # logged out: a new, empty anonymous student

    response = await async_client.post(
        reverse("exercises:login"), {"username": "ana", "password": "un-puerto-seguro-42"}
    )
    assert response.status_code == 302
    page = (await async_client.get(exercise_page("practica", "crea-archivo"))).content.decode()
    assert 'data-done="true"' in page


def test_login_merges_anonymous_progress_into_an_existing_account(client, lessons_dir) -> None:
    user = User.objects.create_user("luis", password="un-puerto-seguro-42")  # noqa: S106
    mine = progress.Student(user_id=user.pk)
    progress.record_check(mine, "practica", "crea-archivo", failed_checks=[0])  # tried before

    # Anonymously, in this browser: finishes crea-archivo and sees the solution of tu-kernel.
    client.get(exercise_page("practica", "crea-archivo"))
    session = client.session
    session[progress.SESSION_KEY] = "clave-anonima-de-prueba"
    session.save()
    anonymous = progress.Student(anonymous_key="clave-anonima-de-prueba")
    progress.record_check(anonymous, "practica", "crea-archivo", failed_checks=[])
    progress.reveal_solution(anonymous, "practica", "tu-kernel")
    old_key = client.session.session_key

    response = client.post(
        reverse("exercises:login"), {"username": "luis", "password": "un-puerto-seguro-42"}
    )
    assert response.status_code == 302
    assert client.session.session_key != old_key
    rows = {r.exercise_id: r for r in ExerciseProgress.objects.filter(user=user)}
    assert rows["crea-archivo"].completed_at is not None
    assert rows["crea-archivo"].attempts == 2  # one from each
    assert rows["tu-kernel"].solution_revealed_at is not None
    assert not ExerciseProgress.objects.filter(anonymous_key__isnull=False).exists()
    assert progress.SESSION_KEY not in client.session


def test_the_account_pages_are_in_spanish(client) -> None:
    signup = client.get(reverse("exercises:signup")).content.decode()
    assert "Crear cuenta" in signup and "Contraseña" in signup and "Nombre de usuario" in signup
    login = client.get(reverse("exercises:login")).content.decode()
    assert "Entrar" in login and "Contraseña" in login


def test_signup_refuses_an_offsite_next(client) -> None:
    response = client.post(
        reverse("exercises:signup") + "?next=https://ejemplo.invalid/",
        {"username": "eva", "password1": "un-puerto-seguro-42", "password2": "un-puerto-seguro-42"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("lessons:index")
