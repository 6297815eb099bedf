"""A small Compose project (a web server and a client that fetches it by service name, with a
named volume), shared by the gateway test that runs it from the host and the sandbox test that
runs it from inside a student's sandbox."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

COMPOSE = """
version: "3.8"
services:
  web:
    image: muelle/web
    # As lesson 12 writes it: with an init, «down» stops BusyBox's httpd at once.
    init: true
  cliente:
    image: muelle/busybox
    command: sh -c "until wget -q -O - http://web/ > /tmp/pagina; do sleep 0.2; done; sleep 300"
    volumes:
      - datos:/datos
volumes:
  datos:
"""


def run_compose(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """docker-compose in `project`, with the student's environment (their gateway socket)."""
    return subprocess.run(
        ["docker-compose", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def compose_project(
    folder: Path, text: str, env: dict[str, str]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Writes `text` as `folder`/docker-compose.yml; returns docker-compose run in that project
    (`compose("up", "-d")`) with `env`."""
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(text)
    return lambda *args: run_compose(folder, env, *args)
