"""The course registry's server: Debian's `docker-registry` (CNCF distribution 2.8) on loopback.

Muelle writes its config under a folder it owns (var/registry by default): storage, an htpasswd
file with one user whose random password only Muelle knows (no student ever sees it: the gateway
sends it to the engine itself), and a config that listens on 127.0.0.1 only. Loopback matters
twice: nothing outside the host reaches it, and dockerd treats 127.0.0.0/8 as an insecure
registry by default, so the engine pushes to it over plain HTTP with no daemon.json change.
With sandboxes on Swarm nodes the pushing engine is a node's, whose 127.0.0.1 is not this host:
`start(..., host=, tls=)` serves on an address the nodes reach, over TLS (tests/deploy/
test_swarm_registry.py; docs/despliegue.md).

Used by scripts/lib.sh (`python -m sandbox.course_registry start var/registry 5000`) and by the
tests, which start their own on a free port. No Django here: the scripts run it before Django.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

USERNAME = "muelle"
BINARY = "/usr/bin/docker-registry"
LOG_NAME = "registry.log"  # the server's output; trim_log keeps it bounded

_CONFIG = """\
# Written by Muelle (sandbox/course_registry.py): rewritten at every start.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  # Students' images are deleted through the API when their objects go (docs/registry.md).
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  # Uploads that never finished (a push cut off) are not blobs: garbage-collect leaves them.
  # Muelle drops them at every start (a collection restarts it: drop_uploads); the server's own
  # purge (its first run up to an hour after a start, then hourly) catches the rest.
  maintenance:
    uploadpurging:
      enabled: true
      age: 1h
      interval: 1h
      dryrun: false
http:
  addr: {host}:{port}
  secret: {secret}
{tls}  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: muelle
    path: {htpasswd}
"""


def password_file(folder: Path) -> Path:
    return folder / "password"


def ensure_password(folder: Path) -> str:
    """The registry password, made once and kept (mode 0600) so a restart keeps it."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = password_file(folder)
    if not path.exists() or not path.read_text().strip():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def _bcrypt_line(password: str) -> str:
    # distribution only reads bcrypt entries; apache2-utils' htpasswd makes them without a new
    # Python dependency. The password goes on stdin (-i), never on a command line.
    result = subprocess.run(
        ["htpasswd", "-niB", USERNAME],
        input=password + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip() + "\n"


@dataclass(frozen=True)
class Tls:
    """A registry other engines reach (Swarm nodes, docs/despliegue.md): it listens on an address
    of theirs and serves HTTPS with this certificate, signed by a CA the engines trust for that
    host:port only (/etc/docker/certs.d/HOST:PORT/ca.crt)."""

    cert: Path
    key: Path
    ca: Path


def write_config(folder: Path, port: int, host: str = "127.0.0.1", tls: Tls | None = None) -> Path:
    """Writes htpasswd and config.yml for a registry on `host`:`port`; returns the config."""
    password = ensure_password(folder)
    (folder / "storage").mkdir(exist_ok=True)
    htpasswd = folder / "htpasswd"
    htpasswd.write_text(_bcrypt_line(password))
    htpasswd.chmod(0o600)
    config = folder / "config.yml"
    config.write_text(
        _CONFIG.format(
            storage=folder / "storage",
            host=host,
            port=port,
            secret=secrets.token_hex(16),
            tls=f"  tls:\n    certificate: {tls.cert}\n    key: {tls.key}\n" if tls else "",
            htpasswd=htpasswd,
        )
    )
    config.chmod(0o600)
    return config


def answers(
    port: int,
    password: str,
    timeout: float = 2.0,
    host: str = "127.0.0.1",
    tls: Tls | None = None,
) -> bool:
    """True when a registry on `host`:`port` accepts Muelle's credentials (over HTTPS checked
    against `tls.ca` when it serves TLS)."""
    token = base64.b64encode(f"{USERNAME}:{password}".encode()).decode()
    scheme = "https" if tls else "http"  # never another scheme: S310's worry does not apply
    url = f"{scheme}://{host}:{port}/v2/"
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})  # noqa: S310
    context = ssl.create_default_context(cafile=str(tls.ca)) if tls else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def garbage_collect(config: Path) -> None:
    """Frees blobs no manifest refers to any more. Only while the registry is stopped: the
    distribution docs warn that a collection during pushes can delete blobs being uploaded."""
    subprocess.run(
        [BINARY, "garbage-collect", "--delete-untagged", str(config)],
        capture_output=True,
        check=False,
    )


def start(
    folder: Path,
    port: int,
    *,
    wait: float = 20.0,
    host: str = "127.0.0.1",
    tls: Tls | None = None,
) -> subprocess.Popen[bytes]:
    """Writes the config, collects garbage, drops unfinished uploads and starts the server;
    waits until it answers. Never while something answers on the port: the collection would
    run under a live registry."""
    folder = folder.resolve()  # the server's command line names it, and running_pid reads it
    if answers(port, ensure_password(folder), host=host, tls=tls):
        raise RuntimeError(f"a registry already answers on {host}:{port}")
    config = write_config(folder, port, host, tls)
    garbage_collect(config)
    drop_uploads(folder)
    drop_empty_repositories(folder)
    # Appending: trim_log empties it under the running server.
    log = open(folder / LOG_NAME, "ab")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(
        [BINARY, "serve", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    (folder / "pid").write_text(f"{process.pid}\n")
    _write_started(folder, port, host, tls)
    password = ensure_password(folder)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break  # e.g. the port is taken: whatever answers there is not this registry
        if answers(port, password, host=host, tls=tls):
            return process
        time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"the registry did not start: see {folder / LOG_NAME}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _write_started(folder: Path, port: int, host: str, tls: Tls | None) -> None:
    """How it was started, so that a collection (restart()) starts it again the same way."""
    tls_paths = [str(tls.cert), str(tls.key), str(tls.ca)] if tls else None
    (folder / "serve.json").write_text(json.dumps({"port": port, "host": host, "tls": tls_paths}))


def trim_log(folder: Path, limit: int) -> bool:
    """Keeps registry.log near `limit` bytes: past it, its last `limit` bytes move to
    registry.log.1 (replacing the one before) and it starts again empty; True if it did.

    The server never stops writing it (each refused request is a line, and a loop of them wrote
    about 500 MiB an hour), and writes with O_APPEND (start() opens it so): its next line lands
    at the start of the emptied file, not past a hole of the old size. A line written between
    the copy and the truncation is lost, as with logrotate's copytruncate. When the copy fails
    (a full disk is when this matters most), the log is emptied all the same: its old lines
    matter less than the disk every student shares. OSError if even that fails."""
    log = folder / LOG_NAME
    try:
        if log.stat().st_size <= limit:
            return False
    except FileNotFoundError:
        return False
    kept = folder / f"{LOG_NAME}.1"
    # A name of its own: two web processes' reapers may trim at once.
    staging = folder / f".{LOG_NAME}.1.{secrets.token_hex(4)}"
    try:
        with open(log, "rb") as source, open(staging, "xb") as target:
            # Its last `limit` bytes from a line's start: however big it grew (a registry
            # started by an earlier version), what is kept, and copied, stays bounded.
            source.seek(max(0, source.seek(0, os.SEEK_END) - limit))
            if source.tell():
                source.readline()
            shutil.copyfileobj(source, target)
        os.replace(staging, kept)
    except OSError:
        with contextlib.suppress(OSError):
            staging.unlink()
    os.truncate(log, 0)
    return True


def _repositories(folder: Path) -> Path:
    return folder / "storage" / "docker" / "registry" / "v2" / "repositories"


def drop_uploads(folder: Path) -> None:
    """Uploads that never finished (a push cut off) are not blobs, and garbage-collect leaves
    them; the server's own purge starts up to an hour after a start. Only with it stopped."""
    repositories = _repositories(folder)
    if repositories.is_dir():
        for uploads in list(repositories.rglob("_uploads")):
            shutil.rmtree(uploads, ignore_errors=True)


def drop_empty_repositories(folder: Path) -> None:
    """A repository whose last tag was deleted (a student's objects gone) keeps its folder, and
    the catalog lists it for ever: every push, pull and search of every student reads the
    whole catalog, so it grew with each sandbox the registry ever saw (attack review). Its
    layer links go with it (garbage_collect already freed what no manifest uses). Only with
    the registry stopped, after the collection and drop_uploads."""
    repositories = _repositories(folder)
    if not repositories.is_dir():
        return
    for manifests in list(repositories.rglob("_manifests")):
        tags = manifests / "tags"
        if tags.is_dir() and any(tags.iterdir()):
            continue
        for part in ("_manifests", "_layers"):
            shutil.rmtree(manifests.parent / part, ignore_errors=True)
    # Folders left empty (a student's namespace, a repository's parents), deepest first.
    folders = sorted(
        (p for p in repositories.rglob("*") if p.is_dir() and not p.is_symlink()),
        key=lambda p: len(p.parts),
        reverse=True,
    )
    for path in folders:
        with contextlib.suppress(OSError):
            path.rmdir()  # only if empty


def running_pid(folder: Path) -> int | None:
    """The pid of the registry server started in `folder`, if it still runs: checked against
    its command line, so a pid the system gave to another process since is never signalled."""
    try:
        pid = int((folder / "pid").read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    config = str(folder.resolve() / "config.yml").encode()
    return pid if command[:3] == [BINARY.encode(), b"serve", config] else None


def stop_running(folder: Path, wait: float = 10.0) -> None:
    """Stops the registry server started in `folder` (by this process or another)."""
    pid = running_pid(folder)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while running_pid(folder) == pid and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    if running_pid(folder) == pid:
        os.kill(pid, signal.SIGKILL)
        while running_pid(folder) == pid:
            _reap(pid)
            time.sleep(0.05)


def _reap(pid: int) -> None:
    """Collects the exit status when the server is this process's child (else no zombie is
    left to read as still running)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def restart(folder: Path) -> subprocess.Popen[bytes]:
    """Stops the registry started in `folder`, collects its garbage and starts it again as it
    was started (start() collects before serving). Blocking: call it from a worker thread."""
    folder = folder.resolve()
    started = json.loads((folder / "serve.json").read_text())
    tls = Tls(*(Path(p) for p in started["tls"])) if started["tls"] else None
    stop_running(folder)
    return start(folder, int(started["port"]), host=started["host"], tls=tls)


def _main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "start":
        print("usage: python -m sandbox.course_registry start FOLDER PORT", file=sys.stderr)
        return 2
    folder, port = Path(argv[1]).resolve(), int(argv[2])
    if answers(port, ensure_password(folder)):
        # Already running (a previous `scripts/serve`): collected and started again now, while
        # no server of Muelle uses it, when it is the one started here; else left as it is.
        if running_pid(folder) is not None:
            if not (folder / "serve.json").is_file():  # started by an earlier version
                _write_started(folder, port, "127.0.0.1", None)
            restart(folder)
        return 0
    start(folder, port)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
