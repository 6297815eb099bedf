"""Several terminals as tabs in real Chromium against the real engine: each tab its own shell
(one busy with `sleep`, another answering), «Ejecutar» into the active one, switching by mouse
and keyboard (ARIA tabs), the cap said in Spanish (in the page, and by the server to a second
browser tab of the same session), closing a tab, and a reload that reattaches every tab to its
own shell. A phone-sized screen with four tabs does not scroll sideways."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.lessons.conftest import lesson_text

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

TEST_INSTANCE = f"pytest-e2e-tabs-{os.getpid()}"
# Generous bounds for a cold container on a busy machine; limits, not assertions.
READY_MS = 60_000
OUTPUT_MS = 20_000

LESSON = """\
## Varias terminales

```bash ejecutable
echo desde-la-lec''cion
```
"""


@pytest.fixture
def lesson_url(serve_lessons: Callable[..., str]) -> str:
    lesson = lesson_text(LESSON, slug="tabs", titulo="Pestañas")
    return serve_lessons(TEST_INSTANCE, {"01-tabs.md": lesson}, "tabs")


def _active_ready(page: Any) -> None:
    page.wait_for_function(
        "() => window.muelleTerminal && window.muelleTerminal.state === 'ready'", timeout=READY_MS
    )


def _run(page: Any, command: str) -> None:
    page.evaluate("(command) => window.muelleTerminal.run(command)", command)


def _shows(page: Any, text: str) -> None:
    page.wait_for_function(
        "(text) => window.muelleTerminal.lines().some((line) => line.includes(text))",
        arg=text,
        timeout=OUTPUT_MS,
    )


def _screen_has(page: Any, text: str) -> bool:
    return bool(
        page.evaluate(
            "(text) => window.muelleTerminal.lines().some((line) => line.includes(text))", text
        )
    )


def _tab(page: Any, number: int) -> Any:
    return page.get_by_role("tab", name=f"Terminal {number}", exact=True)


def _selected(page: Any, number: int) -> bool:
    return _tab(page, number).get_attribute("aria-selected") == "true"


def test_terminal_tabs_are_separate_shells_switched_by_mouse_and_keyboard(
    page: Any, lesson_url: str
) -> None:
    page.goto(lesson_url)
    _active_ready(page)
    tablist = page.get_by_role("tablist", name="Terminales")
    assert tablist.get_by_role("tab").count() == 1
    _run(page, "echo p''id=$$; sleep 300; echo fin-del-sue''no")
    _shows(page, "pid=")

    # Mouse: «Nueva terminal» opens and shows a second shell, which answers while the first sleeps.
    page.get_by_role("button", name="Nueva terminal").click()
    assert _selected(page, 2) and not _selected(page, 1)
    _active_ready(page)
    _run(page, "echo p''id=$$; echo respon''de")
    _shows(page, "responde")
    second_pid = page.evaluate(
        "() => window.muelleTerminal.lines().find((l) => l.startsWith('pid='))"
    )
    # «Ejecutar» on the lesson's block goes to the active terminal.
    page.get_by_role("button", name="Ejecutar").click()
    _shows(page, "desde-la-leccion")

    # Keyboard: arrows move between the tabs (one tab stop) and show that terminal's shell.
    _tab(page, 2).focus()
    page.keyboard.press("ArrowLeft")
    assert _selected(page, 1)
    assert page.evaluate("() => document.activeElement.id") == _tab(page, 1).get_attribute("id")
    panel_id = _tab(page, 1).get_attribute("aria-controls")
    assert page.locator(f"#{panel_id}").evaluate("el => !el.inert && el.role === 'tabpanel'")
    assert not _screen_has(page, "responde") and not _screen_has(page, "desde-la-leccion")
    first_pid = page.evaluate(
        "() => window.muelleTerminal.lines().find((l) => l.startsWith('pid='))"
    )
    assert first_pid and second_pid and first_pid != second_pid
    assert not _screen_has(page, "fin-del-sueno")  # still asleep in the foreground
    page.keyboard.press("Alt+Shift+2")
    assert _selected(page, 2)
    assert _screen_has(page, "responde")

    # Up to the cap (4): Alt+Shift+N opens, from the keyboard too.
    page.keyboard.press("Alt+Shift+N")
    page.get_by_role("button", name="Nueva terminal").click()
    assert page.evaluate("() => window.muelleTerminal.tabCount") == 4
    assert _selected(page, 4)
    new_button = page.get_by_role("button", name="Nueva terminal")
    assert new_button.get_attribute("aria-disabled") == "true"
    new_button.click(force=True)  # aria-disabled, not disabled: a click still explains why
    notice = page.locator("[data-terminal-notice]")
    assert "Ya tienes 4 terminales abiertas, el máximo" in notice.inner_text()
    assert page.evaluate("() => window.muelleTerminal.tabCount") == 4

    # Supr on a tab closes it; its neighbour is shown.
    _active_ready(page)
    _tab(page, 3).click()
    page.keyboard.press("Delete")  # the click left the focus in the terminal: nothing closes
    assert page.evaluate("() => window.muelleTerminal.tabCount") == 4
    _tab(page, 3).focus()
    page.keyboard.press("Delete")
    assert page.evaluate("() => window.muelleTerminal.tabCount") == 3
    assert _tab(page, 3).count() == 0
    assert _selected(page, 4)
    assert new_button.get_attribute("aria-disabled") == "false"


def test_a_reload_reattaches_every_tab_to_its_own_shell(page: Any, lesson_url: str) -> None:
    page.goto(lesson_url)
    _active_ready(page)
    for number in (1, 2, 3):
        if number > 1:
            page.get_by_role("button", name="Nueva terminal").click()
            _active_ready(page)
        _run(page, f"echo p''id=$$; echo marca-de-la-{number}''-tab")
        _shows(page, f"marca-de-la-{number}-tab")
    _tab(page, 2).click()

    page.reload()
    _active_ready(page)

    assert page.get_by_role("tablist", name="Terminales").get_by_role("tab").count() == 3
    assert _selected(page, 2)  # the same tab is shown
    for number in (1, 2, 3):
        _tab(page, number).click()
        _active_ready(page)
        _shows(page, f"marca-de-la-{number}-tab")  # replayed from its own shell
        for other in {1, 2, 3} - {number}:
            assert not _screen_has(page, f"marca-de-la-{other}-tab")
        before = page.evaluate(
            "() => window.muelleTerminal.lines().find((l) => l.startsWith('pid='))"
        )
        _run(page, "echo a''hora-$$")
        _shows(page, "ahora-")
        now = page.evaluate(
            "() => window.muelleTerminal.lines().find((l) => l.startsWith('ahora-'))"
        )
        assert now == "ahora-" + before.removeprefix("pid=")  # the same shell as before


def test_the_server_refuses_a_terminal_past_the_cap_in_another_browser_tab(
    page: Any, lesson_url: str
) -> None:
    page.goto(lesson_url)
    _active_ready(page)
    for _ in range(3):
        page.get_by_role("button", name="Nueva terminal").click()
        _active_ready(page)
    assert page.evaluate("() => window.muelleTerminal.tabCount") == 4

    # The same session in another browser tab (new sessionStorage: a new terminal id).
    other = page.context.new_page()
    other.goto(lesson_url)
    other.wait_for_function(
        "() => window.muelleTerminal && window.muelleTerminal.state === 'ended'",
        timeout=READY_MS,
    )
    notice = other.locator("[data-terminal-notice]").inner_text()
    assert "Ya tienes 4 terminales abiertas, el máximo por persona" in notice
    other.close()


def test_a_phone_screen_with_four_terminal_tabs_does_not_scroll_sideways(
    browser: Any, lesson_url: str
) -> None:
    context = browser.new_context(locale="es-ES", viewport={"width": 375, "height": 740})
    phone = context.new_page()
    try:
        phone.goto(lesson_url)
        phone.wait_for_function("() => window.muelleTerminal")
        for _ in range(3):
            phone.evaluate("() => window.muelleTerminal.openTab()")
        assert phone.evaluate("() => window.muelleTerminal.tabCount") == 4
        wide = phone.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert wide <= 0, wide
        _tab(phone, 1).click()
        assert _selected(phone, 1)
    finally:
        context.close()
