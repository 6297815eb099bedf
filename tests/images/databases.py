"""The two database images of the course, described once for their shared contract (first-run
initialisation from variables, a client login from another container, data that outlives the
container in its volume) and for the WordPress test, which installs against MariaDB."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Database:
    repository: str
    data: str  # the folder the data lives in (a volume)
    required: str  # the variable without which the first start refuses to initialise
    env: dict[str, str]  # a first start: administrator, a database and a user of its own
    user: str
    password: str
    database: str
    admin: tuple[str, str]  # who may list the users, and their password
    users_query: str  # lists `user` among the server's users, one name a line
    wrong_password: str  # what the client says to a wrong password

    def client(self, user: str, password: str, database: str, query: str) -> dict[str, Any]:
        """The command (and environment) of the image's own client, connecting to host `db`."""
        if self.repository == "postgres":
            return {
                "command": ["psql", "-h", "db", "-U", user, "-d", database, "-tAc", query],
                "environment": {"PGPASSWORD": password},
            }
        return {
            "command": [
                "mariadb",
                "-h",
                "db",
                "-u",
                user,
                f"-p{password}",
                "-N",
                "-B",
                "-e",
                query,
                database,
            ]
        }


MARIADB = Database(
    repository="mariadb",
    data="/var/lib/mysql",
    required="MARIADB_ROOT_PASSWORD",
    env={
        "MARIADB_ROOT_PASSWORD": "raiz-secreta",
        "MARIADB_DATABASE": "tienda",
        "MARIADB_USER": "ana",
        "MARIADB_PASSWORD": "clave-de-ana",
    },
    user="ana",
    password="clave-de-ana",  # noqa: S106 (a throwaway test server's)
    database="tienda",
    admin=("root", "raiz-secreta"),
    users_query="SELECT user FROM mysql.user WHERE user='ana'",
    wrong_password="Access denied",  # noqa: S106
)

POSTGRES = Database(
    repository="postgres",
    data="/var/lib/postgresql/data",
    required="POSTGRES_PASSWORD",
    env={"POSTGRES_PASSWORD": "secreto", "POSTGRES_USER": "ana", "POSTGRES_DB": "tienda"},
    user="ana",
    password="secreto",  # noqa: S106
    database="tienda",
    # POSTGRES_USER is the server's superuser.
    admin=("ana", "secreto"),
    users_query="SELECT rolname FROM pg_roles WHERE rolname='ana'",
    wrong_password="password authentication failed",  # noqa: S106
)
