"""mariadb: first-run initialisation from MARIADB_* variables, port 3306, data in
/var/lib/mysql, the server as the mysql user."""

from __future__ import annotations

import pytest

from .conftest import logs, process_uid

pytestmark = pytest.mark.docker

ENV = {
    "MARIADB_ROOT_PASSWORD": "raiz-secreta",
    "MARIADB_DATABASE": "tienda",
    "MARIADB_USER": "ana",
    "MARIADB_PASSWORD": "clave-de-ana",
}


def sql(lab, image: str, user: str, password: str, query: str, database: str = ""):  # noqa: ANN001, ANN201
    args = ["mariadb", "-h", "db", "-u", user, f"-p{password}", "-N", "-B", "-e", query]
    return lab.run(image, [*args, *([database] if database else [])])


def test_it_exposes_3306_and_keeps_data_in_var_lib_mysql(client, image_of) -> None:  # noqa: ANN001
    config = client.images.get(image_of("mariadb")).attrs["Config"]
    assert "3306/tcp" in config["ExposedPorts"]
    assert "/var/lib/mysql" in config["Volumes"]


def test_without_a_root_password_option_it_refuses_to_initialise(lab, image_of) -> None:  # noqa: ANN001
    server = lab.start(image_of("mariadb"), "db")
    assert server.wait(timeout=120)["StatusCode"] != 0
    assert "MARIADB_ROOT_PASSWORD" in logs(server)


def test_the_variables_create_the_database_and_user_and_data_survives(lab, image_of) -> None:  # noqa: ANN001
    image = image_of("mariadb")
    data = lab.volume("data")
    server = lab.start(image, "db", environment=ENV, volumes={data: "/var/lib/mysql"})
    lab.until(lambda: sql(lab, image, "ana", "clave-de-ana", "SELECT 1", "tienda"), "login as ana")
    assert process_uid(server) != 0
    code, out = sql(
        lab,
        image,
        "ana",
        "clave-de-ana",
        "CREATE TABLE fruta (nombre VARCHAR(20)); INSERT INTO fruta VALUES ('pera');",
        "tienda",
    )
    assert code == 0, out
    code, out = sql(
        lab, image, "root", "raiz-secreta", "SELECT user FROM mysql.user WHERE user='ana'"
    )
    assert code == 0 and out.split() == ["ana"], out
    code, out = sql(lab, image, "ana", "mala", "SELECT 1", "tienda")
    assert code != 0 and "Access denied" in out

    server.stop(timeout=60)
    server.remove()
    # A new container on the same volume: no variables needed, the data is there.
    lab.start(image, "db", volumes={data: "/var/lib/mysql"})
    out = lab.until(
        lambda: sql(lab, image, "ana", "clave-de-ana", "SELECT nombre FROM fruta", "tienda"),
        "query after restart",
    )
    assert out.split() == ["pera"]
