"""mariadb and postgres: first-run initialisation from their variables, a login from another
container (as students connect), the server as a non-root user, and data that outlives the
container in the volume of the folder the image documents."""

from __future__ import annotations

import pytest

from .conftest import logs, process_uid
from .databases import MARIADB, POSTGRES, Database

pytestmark = pytest.mark.docker

BOTH = pytest.mark.parametrize("db", [MARIADB, POSTGRES], ids=lambda db: db.repository)


def query(lab, image: str, db: Database, sql: str, user: str = "", password: str = ""):  # noqa: ANN001, ANN201
    """(exit code, output) of `sql` through the image's client, on the database the variables
    created, as `user` (the database's own user by default)."""
    return lab.run(image, **db.client(user or db.user, password or db.password, db.database, sql))


@BOTH
def test_without_its_password_variable_it_refuses_to_initialise(lab, image_of, db) -> None:  # noqa: ANN001
    server = lab.start(image_of(db.repository), "db")
    assert server.wait(timeout=120)["StatusCode"] != 0
    assert db.required in logs(server)


@BOTH
def test_the_variables_create_the_database_and_user_and_data_survives(lab, image_of, db) -> None:  # noqa: ANN001
    image = image_of(db.repository)
    data = lab.volume("data")
    server = lab.start(image, "db", environment=db.env, volumes={data: db.data})
    lab.until(lambda: query(lab, image, db, "SELECT 1"), f"login as {db.user}")
    assert process_uid(server) != 0
    code, out = query(
        lab, image, db, "CREATE TABLE fruta (nombre VARCHAR(20)); INSERT INTO fruta VALUES ('pera')"
    )
    assert code == 0, out
    code, out = query(lab, image, db, db.users_query, *db.admin)
    assert code == 0 and out.split() == [db.user], out
    code, out = query(lab, image, db, "SELECT 1", password="mala")  # noqa: S106
    assert code != 0 and db.wrong_password in out

    server.stop(timeout=60)
    server.remove(v=True)
    # A new container on the same volume: no variables needed, the data is there.
    lab.start(image, "db", volumes={data: db.data})
    out = lab.until(
        lambda: query(lab, image, db, "SELECT nombre FROM fruta"), "query after restart"
    )
    assert out.split() == ["pera"]
