"""Staff see, per lesson, started / finished / revealed counts and the checks failing most."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from exercises import progress

pytestmark = pytest.mark.django_db

URL = "/admin/exercises/classoverview/"


def test_the_class_view_counts_students_and_failures(client, lessons_dir) -> None:
    ids = ["crea-archivo", "deja-un-proceso", "tu-kernel"]
    finisher = progress.Student(anonymous_key="a")
    for exercise in ids:
        progress.record_check(finisher, "practica", exercise, failed_checks=[])
    halfway = progress.Student(anonymous_key="b")
    progress.record_check(halfway, "practica", "crea-archivo", failed_checks=[0])
    progress.record_check(halfway, "practica", "deja-un-proceso", failed_checks=[0, 1])
    progress.record_check(halfway, "practica", "deja-un-proceso", failed_checks=[0])
    progress.reveal_solution(halfway, "practica", "crea-archivo")

    staff = User.objects.create_user("profe", password="x", is_staff=True, is_superuser=True)  # noqa: S106
    client.force_login(staff)
    index = client.get(reverse("admin:index")).content.decode()
    assert URL in index and "Resumen de la clase" in index

    html = client.get(URL).content.decode()
    assert 'data-figure="started">2<' in html
    assert 'data-figure="finished">1<' in html
    assert 'data-figure="revealed">1<' in html
    failing = html[html.index("Comprobaciones que más fallan") :]
    # deja-un-proceso #1 failed twice, then #2 and crea-archivo #1 once each.
    first = failing.index("No vemos ningún sleep en tu contenedor.")
    assert first < failing.index("Falta ~/listo.txt.")
    assert "<td>2</td>" in failing


def test_students_cannot_see_the_class_view(client, lessons_dir) -> None:
    student = User.objects.create_user("alumna", password="x")  # noqa: S106
    client.force_login(student)
    response = client.get(URL)
    assert response.status_code == 302  # to the admin login
