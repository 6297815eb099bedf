"""Real `docker` in the lesson page's terminal: a student types `docker run --rm muelle/hola` in
the xterm.js terminal and reads the course image's greeting (through their own Docker gateway,
docs/gateway.md), against the real engine."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from .lesson_site import remove_instance_containers
from .test_terminal_browser import lines, open_lesson, type_in_terminal, wait_for_line

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

TEST_INSTANCE = f"pytest-e2e-gateway-{os.getpid()}"
# Short: a unix socket path has at most 108 bytes.
GATEWAY_DIR = Path(f"/tmp/muelle-e2e-{os.getpid()}")  # noqa: S108


def _remove_what_the_test_made() -> None:
    from sandbox.gateway import sweep_orphans

    # The sandboxes and the containers their students started carry the instance label.
    remove_instance_containers(TEST_INSTANCE, volumes=True)
    # Volumes, networks and images too. Playwright keeps a loop in this thread: another one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, sweep_orphans([])).result(120)
    shutil.rmtree(GATEWAY_DIR, ignore_errors=True)


@pytest.fixture
def gateway_settings(settings: Any) -> Iterator[Any]:
    # Requested before the server: torn down after it stopped.
    settings.SANDBOX_INSTANCE = TEST_INSTANCE
    settings.SANDBOX_WARM_POOL = 0
    settings.DOCKER_GATEWAY_ENABLED = True
    settings.DOCKER_GATEWAY_SOCKET_DIR = GATEWAY_DIR
    yield settings
    _remove_what_the_test_made()


def first_lesson(page: Any, base_url: str) -> str:
    page.goto(base_url + "/")
    hrefs = page.eval_on_selector_all(
        "a[href^='/lecciones/']", "links => links.map(a => a.getAttribute('href'))"
    )
    lessons = [h for h in hrefs if re.fullmatch(r"/lecciones/[\w-]+/", h)]
    assert lessons, "the index links no lesson"
    return base_url + lessons[0]


def test_a_student_runs_docker_run_hola_in_the_lesson_terminal(
    gateway_settings: Any, live_asgi_server: str, page: Any
) -> None:
    open_lesson(page, first_lesson(page, live_asgi_server))

    type_in_terminal(page, "docker run --rm muelle/hola\n")

    try:
        wait_for_line(page, r"¡Hola desde Muelle!")
    except Exception:
        raise AssertionError("\n".join(lines(page))) from None
    wait_for_line(page, r"Si lees esto, Docker funciona")
    # The container was removed (--rm) and the student sees only their own objects.
    type_in_terminal(page, 'echo "quedan:$(docker ps -aq | wc -l)"\n')
    wait_for_line(page, r"^quedan:0$")
