"""Exec sessions read and written on their raw, non-blocking sockets (no thread per terminal).

exec_open, exit_code and resize are blocking (run them through client.call); hijacked and
close_stream work on the stream exec_open returned.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

import docker
import docker.errors
from django.conf import settings

from sandbox import hardening

from .client import SandboxGone, bind_like

READ_CHUNK = 64 * 1024


def hijacked(stream: Any) -> tuple[socket.socket, bytes]:
    """The raw socket of an exec stream, non-blocking, plus any bytes the HTTP layer had
    already buffered past the upgrade response (they would be lost otherwise)."""
    sock: socket.socket = stream._sock
    sock.setblocking(False)
    pending = b""
    with contextlib.suppress(Exception):
        buffered = stream._response.raw._fp.fp
        with contextlib.suppress(BlockingIOError):
            pending = buffered.read1(READ_CHUNK) or b""
    return sock, pending


def close_stream(stream: Any) -> None:
    # Closing only the socket leaves the response's fds open until garbage collection.
    with contextlib.suppress(Exception):
        stream._sock.close()
    with contextlib.suppress(Exception):
        stream._response.close()
    with contextlib.suppress(Exception):
        stream.close()


def _exec_kwargs() -> dict[str, Any]:
    return {
        "user": settings.SANDBOX_USER,
        "workdir": settings.SANDBOX_WORKDIR,
        "environment": hardening.sandbox_env(),
        "privileged": False,
        "detach_keys": hardening.TERMINAL_DETACH_KEYS,
    }


def exec_open(
    api: docker.APIClient, container_id: str, cmd: list[str], *, tty: bool, stdin: bool
) -> tuple[str, Any]:
    try:
        exec_id = api.exec_create(
            container_id, cmd, stdin=stdin, tty=tty, stdout=True, stderr=True, **_exec_kwargs()
        )["Id"]
    except docker.errors.NotFound as exc:
        raise SandboxGone(container_id) from exc
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # not running
            raise SandboxGone(container_id) from exc
        raise
    # Its later calls (exit code, resize) name the exec session: they go where the container is.
    bind_like(exec_id, container_id)
    stream = api.exec_start(exec_id, tty=tty, socket=True)
    return exec_id, stream


def exit_code(api: docker.APIClient, exec_id: str) -> int | None:
    # The stream ends a moment before the engine records the exit: look a few times.
    for _attempt in range(20):
        try:
            info = api.exec_inspect(exec_id)
        except docker.errors.NotFound:
            return None
        if not info.get("Running"):
            code = info.get("ExitCode")
            return int(code) if code is not None else None
        time.sleep(0.01)
    return None


def resize(api: docker.APIClient, exec_id: str, rows: int, cols: int) -> None:
    try:
        api.exec_resize(exec_id, height=rows, width=cols)
    except docker.errors.APIError:
        # Right after exec_start the process may not be registered yet: retry once.
        time.sleep(0.05)
        with contextlib.suppress(docker.errors.APIError):
            api.exec_resize(exec_id, height=rows, width=cols)
