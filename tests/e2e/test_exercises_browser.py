"""A student does lesson 1's exercises in the page's terminal, clicks "Comprobar", sees each one
pass, and sees the lesson's progress on the course index (real page, real engine)."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator

import pytest

from .lesson_site import remove_instance_containers

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

WAIT_MS = 60_000


@pytest.fixture
def course(settings) -> Iterator[object]:  # noqa: ANN001
    """Lesson 1 of the real course, on a private sandbox instance removed afterwards."""
    from exercises import catalog

    settings.SANDBOX_INSTANCE = f"test-e2e-ejercicios-{secrets.token_hex(4)}"
    settings.SANDBOX_WARM_POOL = 0
    lesson = next(lesson for lesson in catalog.all_lessons() if lesson.exercises)
    yield lesson
    remove_instance_containers(settings.SANDBOX_INSTANCE)


def wait_ready(page) -> None:  # noqa: ANN001
    try:
        page.wait_for_function(
            "() => window.muelleTerminal && window.muelleTerminal.state === 'ready'",
            timeout=WAIT_MS,
        )
    except Exception:
        status = page.inner_text("[data-terminal-status]")
        notice = page.inner_text("[data-terminal-notice]")
        raise AssertionError(f"the terminal is not ready: {status!r} {notice!r}") from None


def terminal_text(page) -> str:  # noqa: ANN001
    return page.evaluate("() => window.muelleTerminal.lines().join('\\n')")


def run_in_terminal(page, command: str, expect: str) -> str:  # noqa: ANN001
    """Runs `command` through the terminal's API and waits until `expect` (a regex) shows."""
    page.evaluate("(c) => window.muelleTerminal.run(c)", command)
    page.wait_for_function(
        "(re) => new RegExp(re, 'm').test(window.muelleTerminal.lines().join('\\n'))",
        arg=expect,
        timeout=WAIT_MS,
    )
    match = re.search(expect, terminal_text(page), re.M)
    assert match is not None
    return match.group(0)


def check(page, exercise_id: str, answer: str | None = None) -> None:  # noqa: ANN001
    card = f"#ejercicio-{exercise_id}"
    if answer is not None:
        page.fill(f"{card}-respuesta", answer)
    page.click(f"{card} button.ejercicio__comprobar")
    page.wait_for_selector(f'{card} [data-result="aprobado"]', timeout=WAIT_MS)
    assert page.get_attribute(card, "data-done") == "true"


def badge(page, slug: str) -> dict[str, str | None]:  # noqa: ANN001
    selector = f'[data-lesson-progress="{slug}"]'
    page.wait_for_selector(selector, timeout=WAIT_MS)
    return {
        "done": page.get_attribute(selector, "data-done"),
        "total": page.get_attribute(selector, "data-total"),
        "complete": page.get_attribute(selector, "data-complete"),
        "text": page.inner_text(selector),
    }


def test_a_student_does_lesson_one_in_the_terminal_and_the_index_shows_it(
    live_asgi_server: str,
    page,
    course,  # noqa: ANN001
) -> None:
    lesson = course
    ids = [exercise.id for exercise in lesson.exercises]
    assert ids[0] == "kernel-compartido"

    page.goto(live_asgi_server + lesson.url)
    wait_ready(page)
    assert badge(page, lesson.slug)["done"] == "0"

    # Exercise 1, typed into xterm with the keyboard like a student would.
    page.click("[data-terminal-screen]")
    page.wait_for_timeout(200)
    page.keyboard.type("uname -r")
    page.keyboard.press("Enter")
    kernel_line = "^" + re.escape(os.uname().release) + r"\s*$"
    page.wait_for_function(
        "(re) => new RegExp(re, 'm').test(window.muelleTerminal.lines().join('\\n'))",
        arg=kernel_line,
        timeout=WAIT_MS,
    )
    # What the student saw in their container is the host's kernel: they type it in.
    check(page, ids[0], os.uname().release)

    page.goto(live_asgi_server + "/")
    first = badge(page, lesson.slug)
    assert first["done"] == "1" and first["complete"] == "false"
    assert f"1 de {len(ids)}" in (first["text"] or "")

    # The other exercises, through the terminal's API.
    page.goto(live_asgi_server + lesson.url)
    wait_ready(page)
    hostname = run_in_terminal(page, "hostname", r"^muelle-[0-9a-f]{6}\s*$").strip()
    run_in_terminal(page, "sleep 1000 &", r"^\[1\] \d+")
    check(page, ids[1], hostname)
    run_in_terminal(
        page, 'echo "hola desde mi contenedor" > ~/hola.txt; cat ~/hola.txt', r"^hola desde mi"
    )
    check(page, ids[2], "no")

    page.goto(live_asgi_server + "/")
    done = badge(page, lesson.slug)
    assert done["complete"] == "true" and "Completada" in (done["text"] or "")
