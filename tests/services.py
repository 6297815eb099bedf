"""Throwaway PostgreSQL and Redis servers for tests: real Debian binaries, loopback only, data in a
temporary folder that is deleted afterwards. A missing binary FAILS (never skips) and names the
Debian package scripts/test must install, because a skipped test proves nothing in CI."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

READY_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _require(path: str | None, program: str, package: str) -> str:
    if not path or not os.access(path, os.X_OK):
        pytest.fail(
            f"Falta {program}: scripts/test debe instalar el paquete de Debian «{package}» "
            f"(apt-get install {package}).",
            pytrace=False,
        )
    return path


def _stop(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class PostgresServer:
    """A fresh cluster (initdb) served by one `postgres` process on 127.0.0.1:<free port> and a unix
    socket inside its own folder. initdb and postgres refuse to run as root, so under root both run
    as the `postgres` system user through setpriv, which execs in place: the Popen handle is the
    postmaster itself and a signal to it is the real shutdown."""

    user = "muelle"
    password = "muelle-test-only"  # noqa: S105  (a loopback cluster that lives for one test run)
    database = "muelle"

    def __init__(self) -> None:
        # Debian names the folder after the major version; the newest installed one serves.
        candidates = sorted(
            glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: float(Path(p).parent.name)
        )
        bindir = candidates[-1] if candidates else ""
        self.initdb = _require(bindir and f"{bindir}/initdb", "initdb", "postgresql")
        self.postgres = _require(bindir and f"{bindir}/postgres", "postgres", "postgresql")
        self._as_owner: list[str] = []
        owner = None
        if os.geteuid() == 0:
            owner = pwd.getpwnam(_require_postgres_user())
            self._as_owner = [
                _require(shutil.which("setpriv"), "setpriv", "util-linux"),
                f"--reuid={owner.pw_uid}",
                f"--regid={owner.pw_gid}",
                "--clear-groups",
                "--",
            ]
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # Not pytest's tmp_path: that lives under a 0700 root folder the postgres user can't enter.
        self.root = Path(tempfile.mkdtemp(prefix="muelle-pg-"))
        if owner is not None:
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgres://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def _run_as_owner(self, *args: str) -> None:
        result = subprocess.run(
            [*self._as_owner, *args], cwd=self.root, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout}{result.stderr}"

    def start(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        os.chown(pwfile, self.root.stat().st_uid, self.root.stat().st_gid)
        # trust only on the unix socket inside our own folder; TCP asks for the password, so the
        # DATABASE_URL under test carries real credentials.
        self._run_as_owner(
            self.initdb,
            f"--pgdata={self.data}",
            f"--username={self.user}",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        self.sockets.mkdir()
        os.chown(self.sockets, self.root.stat().st_uid, self.root.stat().st_gid)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    *self._as_owner,
                    self.postgres,
                    "-D",
                    str(self.data),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"port={self.port}",
                    "-c",
                    f"unix_socket_directories={self.sockets}",
                    # Durability is pointless for a cluster deleted at the end of the run.
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ],
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._create_database()

    def connect(self, dbname: str | None = None):  # noqa: ANN201  (psycopg.Connection)
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname or self.database,
            connect_timeout=5,
            autocommit=True,
        )

    def _create_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"postgres exited:\n{self.log.read_text(errors='replace')}")
            try:
                with self.connect("postgres") as conn:
                    conn.execute(f'CREATE DATABASE "{self.database}"')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, signal.SIGINT)  # SIGINT is postgres' "fast" shutdown
        shutil.rmtree(self.root, ignore_errors=True)


def _require_postgres_user() -> str:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail(
            "Falta el usuario del sistema postgres: scripts/test debe instalar el paquete de "
            "Debian «postgresql» (apt-get install postgresql).",
            pytrace=False,
        )
    return "postgres"


class RedisServer:
    """redis-server on 127.0.0.1:<free port>, nothing persisted, in its own working folder."""

    def __init__(self) -> None:
        self.binary = _require(shutil.which("redis-server"), "redis-server", "redis-server")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="muelle-redis-"))
        self.log = self.root / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.root),
                ],
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while self.command(b"PING") != b"+PONG":
            if self.process.poll() is not None:
                raise AssertionError(
                    f"redis-server exited:\n{self.log.read_text(errors='replace')}"
                )
            assert time.monotonic() < deadline, "redis-server did not answer PING"
            time.sleep(0.05)

    def command(self, *words: bytes) -> bytes | None:
        """One inline command, its first reply line (enough for PING / DBSIZE)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(b" ".join(words) + b"\r\n")
                return s.makefile("rb").readline().rstrip(b"\r\n")
        except OSError:
            return None

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, signal.SIGTERM)
        shutil.rmtree(self.root, ignore_errors=True)
