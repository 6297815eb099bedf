"""postgres: first-run initdb from POSTGRES_* variables, port 5432, data in
/var/lib/postgresql/data, the server as the postgres user."""

from __future__ import annotations

import pytest

from .conftest import logs, process_uid

pytestmark = pytest.mark.docker


def psql(lab, image: str, user: str, password: str, database: str, query: str):  # noqa: ANN001, ANN201
    return lab.run(
        image,
        ["psql", "-h", "db", "-U", user, "-d", database, "-tAc", query],
        environment={"PGPASSWORD": password},
    )


def test_it_exposes_5432_and_keeps_data_in_pgdata(client, image_of) -> None:  # noqa: ANN001
    config = client.images.get(image_of("postgres")).attrs["Config"]
    assert "5432/tcp" in config["ExposedPorts"]
    assert "/var/lib/postgresql/data" in config["Volumes"]
    assert "PGDATA=/var/lib/postgresql/data" in config["Env"]


def test_without_a_password_it_refuses_to_initialise(lab, image_of) -> None:  # noqa: ANN001
    server = lab.start(image_of("postgres"), "db")
    assert server.wait(timeout=120)["StatusCode"] != 0
    assert "POSTGRES_PASSWORD" in logs(server)


def test_the_variables_create_the_user_and_database_and_data_survives(lab, image_of) -> None:  # noqa: ANN001
    image = image_of("postgres")
    data = lab.volume("data")
    env = {"POSTGRES_PASSWORD": "secreto", "POSTGRES_USER": "ana", "POSTGRES_DB": "tienda"}
    server = lab.start(image, "db", environment=env, volumes={data: "/var/lib/postgresql/data"})
    lab.until(lambda: psql(lab, image, "ana", "secreto", "tienda", "SELECT 1"), "login as ana")
    assert process_uid(server) != 0
    code, out = psql(
        lab,
        image,
        "ana",
        "secreto",
        "tienda",
        "CREATE TABLE fruta (n text); INSERT INTO fruta VALUES ('pera')",
    )
    assert code == 0, out
    code, out = psql(lab, image, "ana", "mala", "tienda", "SELECT 1")
    assert code != 0 and "password authentication failed" in out

    server.stop(timeout=60)
    server.remove()
    lab.start(image, "db", volumes={data: "/var/lib/postgresql/data"})
    out = lab.until(
        lambda: psql(lab, image, "ana", "secreto", "tienda", "SELECT n FROM fruta"),
        "query after restart",
    )
    assert out.split() == ["pera"]
