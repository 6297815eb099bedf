"""DATABASE_URL switches Muelle to PostgreSQL and REDIS_URL to channels-redis, against real servers:
a throwaway PostgreSQL cluster and redis-server on loopback (tests/services.py), and Muelle in a
subprocess with the production variables, as a deployment would start it. Each write is then read
back from the server itself, so nothing here can pass against SQLite or the in-memory layer."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import PostgresServer, RedisServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _environment(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "SQLITE_PATH"}}
    env.update(
        DJANGO_SETTINGS_MODULE="tutorial.settings",
        DEBUG="0",
        HTTPS="0",
        MUELLE_INSECURE_DEV_KEY="1",
        **overrides,
    )
    return env


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_environment(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def services_env(postgres: PostgresServer, redis: RedisServer) -> dict[str, str]:
    return {"DATABASE_URL": postgres.url, "REDIS_URL": redis.url}


@pytest.fixture(scope="session")
def migrated(services_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = _manage("migrate", "--noinput", **services_env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_migrate_builds_the_schema_in_postgresql(
    migrated: subprocess.CompletedProcess[str], postgres: PostgresServer
) -> None:
    assert "Applying auth.0001_initial... OK" in migrated.stdout
    assert "Applying sessions.0001_initial... OK" in migrated.stdout
    with postgres.connect() as conn:
        applied = conn.execute("SELECT count(*) FROM django_migrations").fetchone()
    assert applied is not None and applied[0] > 0


ORM_SNIPPET = """
from django.contrib.auth import get_user_model
from django.db import connection

assert connection.vendor == "postgresql", connection.vendor
User = get_user_model()
User.objects.create_user(username=USERNAME, password="no-importa-123")
fresh = User.objects.get(username=USERNAME)
assert fresh.check_password("no-importa-123")
print("VENDOR", connection.vendor, "SERVER", connection.pg_version)
print("USER", fresh.pk, fresh.username)
"""


def test_the_orm_writes_and_reads_rows_in_postgresql(
    migrated: subprocess.CompletedProcess[str],
    postgres: PostgresServer,
    services_env: dict[str, str],
) -> None:
    username = f"alumno-{uuid.uuid4().hex[:12]}"
    snippet = f"USERNAME = {username!r}\n{ORM_SNIPPET}"
    result = _manage("shell", "-c", snippet, **services_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VENDOR postgresql SERVER" in result.stdout
    assert f" {username}\n" in result.stdout

    # The row is in this server's database, not in some other one the settings fell back to.
    with postgres.connect() as conn:
        row = conn.execute(
            "SELECT username FROM auth_user WHERE username = %s", (username,)
        ).fetchone()
    assert row == (username,)


CHANNEL_LAYER_SNIPPET = """
import asyncio

from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer

layer = get_channel_layer()
assert type(layer) is RedisChannelLayer, type(layer)


async def round_trips():
    direct = await layer.new_channel()
    await layer.send(direct, {"type": "muelle.ping", "token": TOKEN})
    received = await asyncio.wait_for(layer.receive(direct), 10)
    assert received == {"type": "muelle.ping", "token": TOKEN}, received

    # Groups are what spans processes: two workers of one deployment meet here.
    member = await layer.new_channel()
    await layer.group_add("muelle-probe", member)
    await layer.group_send("muelle-probe", {"type": "muelle.group", "token": TOKEN})
    via_group = await asyncio.wait_for(layer.receive(member), 10)
    assert via_group == {"type": "muelle.group", "token": TOKEN}, via_group
    await layer.group_discard("muelle-probe", member)

    # Left unread on purpose: the test looks for it in the Redis server itself.
    await layer.send(PARKED, {"type": "muelle.parked"})


asyncio.run(round_trips())
# A pool made as the layer makes its own: redis-py's 5 s read default dropped terminals.
print("READ TIMEOUT", layer.create_pool(0).connection_kwargs.get("socket_timeout"))
print("LAYER", type(layer).__module__ + "." + type(layer).__qualname__)
print("ROUND TRIP", TOKEN)
"""


def test_the_channel_layer_round_trips_through_redis(
    redis: RedisServer, services_env: dict[str, str]
) -> None:
    token = uuid.uuid4().hex
    parked = f"muelle.parked.{token}"
    snippet = f"TOKEN = {token!r}\nPARKED = {parked!r}\n{CHANNEL_LAYER_SNIPPET}"
    result = _manage("shell", "-c", snippet, **services_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LAYER channels_redis.core.RedisChannelLayer\n" in result.stdout
    assert f"ROUND TRIP {token}\n" in result.stdout
    assert "READ TIMEOUT 30\n" in result.stdout

    # channels-redis keeps a channel's pending messages under "asgi" + channel name.
    assert redis.command(b"EXISTS", f"asgi{parked}".encode()) == b":1"


@pytest.mark.parametrize(
    "url",
    [
        "nosuchdb://muelle@127.0.0.1/muelle",  # unknown scheme
        "postgres://muelle@127.0.0.1:cinco/muelle",  # port is not a number
        "127.0.0.1:5432/muelle",  # scheme forgotten
    ],
)
def test_a_malformed_database_url_stops_the_start(url: str) -> None:
    result = _manage("check", DATABASE_URL=url)
    assert result.returncode != 0
    assert "ImproperlyConfigured: DATABASE_URL is not a valid database URL" in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "127.0.0.1:6379",  # scheme forgotten
        "http://127.0.0.1:6379/0",  # wrong scheme
    ],
)
def test_a_malformed_redis_url_stops_the_start(url: str) -> None:
    result = _manage("check", REDIS_URL=url)
    assert result.returncode != 0
    assert "ImproperlyConfigured: REDIS_URL must start with redis://" in result.stderr


def test_a_redis_url_with_a_bad_port_stops_the_start() -> None:
    result = _manage("check", REDIS_URL="redis://127.0.0.1:cinco/0")
    assert result.returncode != 0
    assert "ImproperlyConfigured: REDIS_URL has an invalid port" in result.stderr


def test_the_default_sqlite_database_runs_in_wal_mode(tmp_path: Path) -> None:
    """Without DATABASE_URL the SQLite file is in WAL mode, which the checks of a class at once
    rely on (readers do not wait for a writer); the mode is kept in the file itself."""
    database = tmp_path / "muelle.sqlite3"
    result = _manage("migrate", "--noinput", SQLITE_PATH=str(database))
    assert result.returncode == 0, result.stdout + result.stderr

    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
