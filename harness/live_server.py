"""The real app under the real server (`python -m tutorial.server`: uvicorn with Muelle's options,
as `scripts/serve` runs it), in a subprocess on a loopback port, with its own SQLite file and its
own SANDBOX_INSTANCE, so kill -9 and SIGTERM are the real thing. Used by the fault tests and by
the scripts under bench/."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")


_static_collected = False
_migrated: Path | None = None  # this process's first migrated database (LiveServer.migrate)
# Set by tests/conftest.py in the main process of a run on several workers, once it collected.
STATIC_COLLECTED = "MUELLE_STATIC_COLLECTED"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def copy_database(source: Path, target: Path) -> None:
    """SQLite's own backup: a whole, consistent copy, also of what is still in the WAL file."""
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


class LiveServer:
    """tutorial.server serving tutorial.asgi as scripts/serve does; start(), kill(), terminate()."""

    def __init__(self, db_path: Path, instance: str, **env: str) -> None:
        self.db_path = db_path
        self.instance = instance
        self.port = free_port()
        self.env = {
            **os.environ,
            "DEBUG": "0",
            "HTTPS": "0",
            "MUELLE_INSECURE_DEV_KEY": "1",
            "SQLITE_PATH": str(db_path),
            "SANDBOX_INSTANCE": instance,
            "SANDBOX_WARM_POOL": "0",
            "DJANGO_SETTINGS_MODULE": "tutorial.settings",
            **env,
        }
        self.env.pop("DATABASE_URL", None)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = db_path.with_suffix(".log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )

    def migrate(self) -> None:
        """The first server of a process runs `manage.py migrate`; the next ones copy the file
        it left (the same migrations: a second or more of CPU each, on a busy machine)."""
        global _migrated
        if _migrated is not None and _migrated.exists():
            copy_database(_migrated, self.db_path)
            return
        self.manage("migrate", "--noinput", "-v", "0")
        folder = Path(tempfile.mkdtemp(prefix="muelle-migrated-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _migrated = folder / "db.sqlite3"
        copy_database(self.db_path, _migrated)

    def collect_static(self) -> None:
        """With DEBUG off, pages name files from whitenoise's manifest, as scripts/serve does;
        collected once per process, or not at all when the test run's main process collected
        them already (STATIC_COLLECTED): a collect deletes and rewrites files that another
        process may be reading."""
        global _static_collected
        if not _static_collected and os.environ.get(STATIC_COLLECTED) != "1":
            self.manage("collectstatic", "--noinput", "-v", "0", timeout=300)
            _static_collected = True

    def start(self, *extra: str) -> None:
        self.collect_static()
        args = [
            PYTHON,
            "-m",
            "tutorial.server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            # Shorter than production's 10 s, so the slowloris test waits less.
            "--header-timeout",
            "5",
            "--timeout-keep-alive",
            "5",
            "--log-level",
            "warning",
            *extra,
        ]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start listening within 60 s")

    def kill(self) -> None:
        """kill -9: no shutdown code runs at all."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, within: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(within)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def session_cookie(self, path: str = "/lecciones/que-es-docker/") -> str:
        """`sessionid=...` as a browser gets it (`__Host-sessionid=...` with HTTPS=1): a lesson
        with exercises gives the visitor their session (and anonymous progress key) at once."""
        with urllib.request.urlopen(self.url + path, timeout=30) as response:  # noqa: S310
            cookies = response.headers.get_all("Set-Cookie") or []
        for cookie in cookies:
            if cookie.startswith(("sessionid=", "__Host-sessionid=")):
                return cookie.split(";")[0]
        raise AssertionError(f"no session cookie in {cookies}")

    async def open_terminal(self, cookie: str, terminal_id: str) -> ClientConnection:
        """A terminal websocket, returned once the server says `ready`."""
        ws = await connect(
            f"ws://127.0.0.1:{self.port}/ws/terminal/?t={terminal_id}",
            origin=self.url,  # the page's own origin, port included
            additional_headers={"Cookie": cookie},
            open_timeout=60,
            max_size=2**20,
        )
        while True:
            frame = await asyncio.wait_for(ws.recv(), 60)
            if isinstance(frame, str) and json.loads(frame)["type"] == "ready":
                return ws

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # A graceful stop, as an operator's Ctrl-C: the server removes its own sandboxes.
        if self.process is not None and self.process.poll() is None:
            try:
                self.terminate(within=20)
            except subprocess.TimeoutExpired:
                self.stop()


def instance_containers(instance: str) -> list[str]:
    """Ids of every container (running or not) labelled with `instance`, from the docker CLI so
    it works without Django settings (bench)."""
    from sandbox import hardening

    out = subprocess.run(
        [
            "docker",
            "ps",
            "-aq",
            "--no-trunc",
            "--filter",
            f"label={hardening.LABEL_INSTANCE}={instance}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def remove_containers(instance: str) -> None:
    """Removes the instance's containers, then its volumes (the sandboxes' project volumes,
    which `rm -v` spares: left behind, the next server's reaper removed them during whatever
    that run measured)."""
    from sandbox import engine_names

    ids = instance_containers(instance)
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)
    label = f"label={engine_names.LABEL_INSTANCE}={instance}"
    volumes = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", label],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    if volumes:
        subprocess.run(["docker", "volume", "rm", *volumes], capture_output=True, check=False)


def serving(folder: Path, name: str, *start_args: str, **env: str) -> Iterator[LiveServer]:
    """A started server (`start_args` added to its command line) with its own SQLite file in
    `folder` and its own instance; on the way out, a graceful stop (kill if it hangs), its
    containers removed and `folder` deleted. For module-scoped fixtures: `yield from
    serving(...)`."""
    live = LiveServer(
        folder / "db.sqlite3", f"pytest-{name}-{os.getpid()}-{time.monotonic_ns()}", **env
    )
    live.migrate()
    live.start(*start_args)
    yield live
    try:
        live.terminate(within=30)
    finally:
        live.stop()
        remove_containers(live.instance)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover - manual use
    sys.exit("import me")
