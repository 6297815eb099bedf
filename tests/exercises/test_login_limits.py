"""Guessing a password online: failed logins from one address are limited (exercises.login_limits)
on Muelle's login page and on the admin's, and a sign-up over the new-session limit makes no
account. Before, 200 wrong passwords in a row were all tried (each a PBKDF2 hash), the right one
then logged in, and a refused sign-up had made its account all the same."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tutorial.session_rate import buckets as new_sessions

pytestmark = pytest.mark.django_db

PASSWORD = "un-puerto-seguro-42"  # noqa: S105


@pytest.fixture
def few_failures(settings: Any) -> None:
    settings.CLIENT_LOGIN_FAILURES_BURST = 3
    settings.CLIENT_LOGIN_FAILURES_PER_MINUTE = 0.1


@pytest.mark.usefixtures("few_failures")
def test_after_a_few_wrong_passwords_even_the_right_one_waits(client: Client) -> None:
    User.objects.create_user("victima", password=PASSWORD)
    url = reverse("exercises:login")
    for guess in range(3):
        wrong = client.post(url, {"username": "victima", "password": f"mala-{guess}"})
        assert wrong.status_code == 200  # the form again, with Django's wrong-password message
    refused = client.post(url, {"username": "victima", "password": PASSWORD})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert "muchos intentos fallidos" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # Per address, not per account: the student logs in from their own network.
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    assert elsewhere.post(url, {"username": "victima", "password": PASSWORD}).status_code == 302


@pytest.mark.usefixtures("few_failures")
def test_the_admin_login_is_held_to_the_same_failures(client: Client) -> None:
    User.objects.create_superuser("jefa", password=PASSWORD)
    url = reverse("admin:login")
    for guess in range(3):
        client.post(url, {"username": "jefa", "password": f"mala-{guess}", "next": "/admin/"})
    right = client.post(url, {"username": "jefa", "password": PASSWORD, "next": "/admin/"})
    assert right.status_code == 200  # the login form again: not in
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still sent to log in


def test_a_refused_sign_up_makes_no_account(client: Client, settings: Any) -> None:
    settings.CLIENT_SESSION_BURST = 1
    settings.CLIENT_SESSIONS_PER_MINUTE = 0.1
    assert new_sessions.take("127.0.0.1") == 0  # this address's one new session is spent
    answer = client.post(
        reverse("exercises:signup"),
        {"username": "nueva", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert answer.status_code == 429
    assert "muchas sesiones nuevas" in answer.content.decode()
    assert not User.objects.filter(username="nueva").exists()


@pytest.mark.django_db(transaction=True)
def test_guesses_sent_at_once_get_no_more_tries_than_the_budget(settings: Any) -> None:
    # The budget was checked before the password was hashed and spent after: guesses sent at
    # the same moment all passed the check (8 at once got 3 hashes with a budget of 1).
    import threading

    from django.core.exceptions import PermissionDenied
    from django.test import RequestFactory

    from exercises.login_limits import LimitedModelBackend

    settings.CLIENT_LOGIN_FAILURES_BURST = 1
    settings.CLIENT_LOGIN_FAILURES_PER_MINUTE = 0.1
    User.objects.create_user("victima", password=PASSWORD)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def guess(number: int) -> None:
        request = RequestFactory().post("/", REMOTE_ADDR="198.51.100.7")
        start.wait()
        try:
            user = LimitedModelBackend().authenticate(request, "victima", f"mala-{number}")
            outcomes.append("comprobada" if user is None else "dentro")
        except PermissionDenied:
            outcomes.append("rechazada")

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["comprobada"] + ["rechazada"] * 7


@pytest.mark.usefixtures("few_failures")
def test_failed_sign_ups_spend_the_same_budget_and_then_say_nothing_of_names(
    client: Client,
) -> None:
    # «Ya existe un usuario con ese nombre» tells which names have an account: an attack review
    # probed 300 names in 6 s. Each failed sign-up is a failed try, like a wrong password.
    User.objects.create_user("victima", password=PASSWORD)
    probe = {"username": "victima", "password1": PASSWORD, "password2": PASSWORD}
    for _attempt in range(3):
        answer = client.post(reverse("exercises:signup"), probe)
        assert answer.status_code == 200
        assert "Ya existe un usuario" in answer.content.decode()
    answer = client.post(reverse("exercises:signup"), probe)
    assert answer.status_code == 429
    assert int(answer["Retry-After"]) >= 1
    html = answer.content.decode()
    assert "muchos intentos fallidos" in html and "Ya existe" not in html
    # Not even a good sign-up goes through meanwhile.
    good = {"username": "nueva", "password1": PASSWORD, "password2": PASSWORD}
    assert client.post(reverse("exercises:signup"), good).status_code == 429
    assert not User.objects.filter(username="nueva").exists()


def test_a_good_sign_up_spends_no_failure(client: Client, settings: Any) -> None:
    settings.CLIENT_LOGIN_FAILURES_BURST = 1
    settings.CLIENT_LOGIN_FAILURES_PER_MINUTE = 0.1
    good = {"username": "nueva", "password1": PASSWORD, "password2": PASSWORD}
    assert client.post(reverse("exercises:signup"), good).status_code == 302
    client.logout()
    other = {"username": "otra", "password1": PASSWORD, "password2": PASSWORD}
    assert client.post(reverse("exercises:signup"), other).status_code == 302


@pytest.mark.usefixtures("few_failures")
def test_passwords_the_validators_turn_down_spend_nothing(client: Client) -> None:
    # A class behind one address, some of them picking weak passwords: no lock-out.
    weak = {"username": "nueva", "password1": "1234", "password2": "1234"}
    for _attempt in range(5):
        answer = client.post(reverse("exercises:signup"), weak)
        assert answer.status_code == 200
        assert "muchos intentos fallidos" not in answer.content.decode()
    good = {"username": "nueva", "password1": PASSWORD, "password2": PASSWORD}
    assert client.post(reverse("exercises:signup"), good).status_code == 302
