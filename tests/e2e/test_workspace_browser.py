"""The workspace beside a lesson in real Chromium against the real engine: a lesson block opened
in the editor, edited, saved with Ctrl-S and read back with `cat` in the terminal; a change made
in the terminal turning the next save into the «recargar o sobrescribir» question; the tabs
driven by the keyboard; a phone-sized screen without sideways scrolling."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.lessons.conftest import lesson_text

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

TEST_INSTANCE = f"pytest-e2e-workspace-{os.getpid()}"
# Generous bounds for a cold container on a busy machine; limits, not assertions.
READY_MS = 60_000
OUTPUT_MS = 20_000

LESSON = """\
## Tu primer Dockerfile

Abre el archivo en el editor:

```dockerfile archivo=proyecto/Dockerfile
FROM muelle/hola
```

```bash ejecutable
cat ~/proyecto/Dockerfile
```
"""


@pytest.fixture
def lesson_url(serve_lessons: Callable[..., str]) -> str:
    lessons = {
        "01-editor.md": lesson_text(LESSON, slug="editor", titulo="El editor"),
        "02-siguiente.md": lesson_text(
            "## Otra\n\nMás texto.\n", slug="siguiente", titulo="Siguiente", orden=2
        ),
    }
    return serve_lessons(TEST_INSTANCE, lessons, "editor")


def _ready(page: Any) -> None:
    page.wait_for_function(
        "() => window.muelleTerminal && window.muelleTerminal.state === 'ready'", timeout=READY_MS
    )
    page.wait_for_function("() => window.muelleEditor && window.muelleWorkspace")


def run(page: Any, command: str) -> None:
    page.evaluate("(command) => window.muelleTerminal.run(command)", command)


def _terminal_shows(page: Any, text: str) -> None:
    page.wait_for_function(
        "(text) => window.muelleTerminal.lines().includes(text)", arg=text, timeout=OUTPUT_MS
    )


def test_a_block_opened_in_the_editor_edited_and_saved_is_what_cat_shows(
    page: Any, lesson_url: str
) -> None:
    page.goto(lesson_url)
    _ready(page)
    page.get_by_role("button", name="Abrir proyecto/Dockerfile en el editor").click()
    editor_tab = page.get_by_role("tab", name="Editor")
    page.wait_for_function("() => window.muelleEditor.path === 'proyecto/Dockerfile'")
    assert editor_tab.get_attribute("aria-selected") == "true"
    assert page.locator(".cm-content").inner_text().strip() == "FROM muelle/hola"
    # Highlighted as a Dockerfile (the legacy mode marks FROM as a keyword).
    assert page.locator(".cm-content span", has_text="FROM").count() >= 1

    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type('CMD ["echo", "hecho en el editor"]\n')
    assert page.locator("[data-editor-unsaved]").is_visible()
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !window.muelleEditor.dirty")
    assert page.locator("[data-editor-unsaved]").is_hidden()

    # «Ejecutar» on the lesson's `cat` block goes back to the terminal and runs it there.
    page.get_by_role("button", name="Ejecutar").click()
    assert (
        page.get_by_role("tab", name="Terminal", exact=True).get_attribute("aria-selected")
        == "true"
    )
    _terminal_shows(page, 'CMD ["echo", "hecho en el editor"]')

    # Changed in the terminal meanwhile: the editor's next save asks.
    run(page, "echo 'FROM muelle/busybox' > ~/proyecto/Dockerfile && echo cam''biado")
    _terminal_shows(page, "cambiado")
    page.evaluate("() => window.muelleWorkspace.show('editor')")
    # No unsaved edits here: the editor reloads the new text by itself.
    page.wait_for_function(
        "() => window.muelleEditor.view.state.doc.toString() === 'FROM muelle/busybox\\n'"
    )
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("# editado\n")
    run(page, "echo otra > ~/proyecto/Dockerfile && echo otra''-vez")
    _terminal_shows(page, "otra-vez")
    page.evaluate("() => window.muelleEditor.save()")
    conflict = page.get_by_role("alertdialog")
    conflict.wait_for()
    assert "El archivo cambió en la terminal: ¿recargar o sobrescribir?" in conflict.inner_text()
    conflict.get_by_role("button", name="Sobrescribir").click()
    page.wait_for_function("() => !window.muelleEditor.dirty")
    page.keyboard.press("Alt+Shift+T")
    run(page, "grep -c editado ~/proyecto/Dockerfile | sed s/^/n=/")
    _terminal_shows(page, "n=1")


def test_the_editor_survives_htmx_navigation_to_the_next_lesson(page: Any, lesson_url: str) -> None:
    page.goto(lesson_url)
    _ready(page)
    page.get_by_role("button", name="Abrir proyecto/Dockerfile en el editor").click()
    page.wait_for_function("() => window.muelleEditor.path === 'proyecto/Dockerfile'")
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("# sin guardar\n")
    page.evaluate("() => { window.__sameDocument = true; }")
    page.get_by_role("link", name="Siguiente").first.click()
    page.wait_for_url("**/lecciones/siguiente/")
    page.get_by_role("heading", name="Otra").wait_for()
    # The same document (no reload): the workspace, its open file and unsaved text stayed.
    assert page.evaluate("() => window.__sameDocument") is True
    assert page.evaluate("() => window.muelleEditor.path") == "proyecto/Dockerfile"
    assert page.evaluate("() => window.muelleEditor.dirty") is True
    assert "# sin guardar" in page.locator(".cm-content").inner_text()
    assert page.get_by_role("tab", name="Editor").get_attribute("aria-selected") == "true"
    assert page.evaluate("() => window.muelleTerminal.state") == "ready"


def test_the_file_tree_creates_renames_and_deletes(page: Any, lesson_url: str) -> None:
    answers: list[str] = []
    page.on("dialog", lambda dialog: dialog.accept(answers.pop(0) if answers else None))
    page.goto(lesson_url)
    _ready(page)
    page.keyboard.press("Alt+Shift+E")
    tree = page.get_by_role("navigation", name="Archivos de tu carpeta personal")

    answers.append("web")
    page.get_by_role("button", name="Nueva carpeta").click()
    tree.get_by_role("button", name="web (carpeta)").click()  # chosen: new files go inside
    answers.append("web/index.html")
    page.get_by_role("button", name="Nuevo archivo").click()
    page.wait_for_function("() => window.muelleEditor.path === 'web/index.html'")
    # Typed as a student types it: the editor closing tags by itself left `</h1></h1>`.
    page.keyboard.type("<h1>Hola</h1>")
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !window.muelleEditor.dirty")

    # Keys typed while a new file is still being opened go to no file: they went into the one
    # open before (unseen) or were cut when the new one arrived. Its reading is held here.
    read_url = page.evaluate("() => document.querySelector('[data-read-url]').dataset.readUrl")
    held: list[Any] = []
    page.route(lambda url: read_url in url and "otro.txt" in url, lambda route: held.append(route))
    answers.append("web/otro.txt")
    page.get_by_role("button", name="Nuevo archivo").click()
    while not held:  # until the editor asks for the new file (a bound: the route's arrival)
        page.wait_for_timeout(50)
    page.locator(".cm-content").click()  # in the editor, which still shows the old file
    page.keyboard.type("perdido")
    assert page.evaluate("() => window.muelleEditor.view.state.doc.toString()") == "<h1>Hola</h1>"
    assert page.evaluate("() => window.muelleEditor.dirty") is False
    held[0].continue_()
    page.wait_for_function("() => window.muelleEditor.path === 'web/otro.txt'")
    assert page.evaluate("() => window.muelleEditor.view.state.doc.toString()") == ""
    page.keyboard.type("nuevo")
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !window.muelleEditor.dirty")
    page.unroute(lambda url: read_url in url and "otro.txt" in url)

    answers.append("sitio")
    tree.get_by_role("button", name="web (carpeta)").click()
    page.get_by_role("button", name="Renombrar").click()
    tree.get_by_role("button", name="sitio (carpeta)").wait_for()
    assert page.evaluate("() => window.muelleEditor.path") == "sitio/otro.txt"
    run(page, "cat ~/sitio/index.html ~/sitio/otro.txt; echo; ls -A ~ | sed 's/^/hay:/'")
    _terminal_shows(page, "<h1>Hola</h1>nuevo")
    _terminal_shows(page, "hay:sitio")
    assert "hay:web" not in page.evaluate("() => window.muelleTerminal.lines()")

    tree.get_by_role("button", name="sitio (carpeta)").click()
    answers.append("")  # confirm() takes no text
    page.get_by_role("button", name="Borrar").click()
    tree.get_by_role("button", name="sitio (carpeta)").wait_for(state="detached")
    assert page.evaluate("() => window.muelleEditor.path") == ""
    run(page, "test -e ~/sitio || echo ya-no''-existe")
    _terminal_shows(page, "ya-no-existe")

    # A save the sandbox refuses (a read-only folder) is carried out once and says why: only
    # the «no session yet» refusal is mended by opening the session and sending again.
    run(
        page,
        "mkdir ~/cerrada && echo hola > ~/cerrada/nota.txt"
        " && chmod a-w ~/cerrada/nota.txt ~/cerrada && echo lis''to",
    )
    _terminal_shows(page, "listo")
    urls = page.evaluate(
        "() => { const d = document.querySelector('[data-save-url]').dataset;"
        " return [d.saveUrl, d.sessionUrl]; }"
    )
    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.url)
            if request.method == "POST" and any(url in request.url for url in urls)
            else None
        ),
    )
    page.evaluate("() => window.muelleEditor.open('cerrada/nota.txt')")
    page.wait_for_function("() => window.muelleEditor.path === 'cerrada/nota.txt'")
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("más\n")
    page.evaluate("() => window.muelleEditor.save()")
    notice = page.locator("[data-editor-notice]")
    page.wait_for_function(
        "() => document.querySelector('[data-editor-notice]').textContent.includes('permiso')"
    )
    assert "No tienes permiso para cambiar «cerrada/nota.txt»" in notice.inner_text()
    assert len(sent) == 1 and urls[0] in sent[0], sent
    assert page.evaluate("() => window.muelleEditor.dirty") is True


def test_the_tabs_work_from_the_keyboard(page: Any, lesson_url: str) -> None:
    page.goto(lesson_url)
    page.wait_for_function("() => window.muelleWorkspace")
    terminal_tab = page.get_by_role("tab", name="Terminal", exact=True)
    terminal_tab.focus()
    page.keyboard.press("ArrowRight")
    assert page.get_by_role("tab", name="Editor").get_attribute("aria-selected") == "true"
    assert page.evaluate("() => document.activeElement.id") == "workspace-tab-editor"
    assert page.locator("#workspace-pane-editor").evaluate("el => !el.inert")
    assert page.locator("#workspace-pane-terminal").evaluate("el => el.inert")
    page.keyboard.press("ArrowRight")
    assert page.get_by_role("tab", name="Vista").get_attribute("aria-selected") == "true"
    page.keyboard.press("ArrowRight")
    assert terminal_tab.get_attribute("aria-selected") == "true"
    # One tab stop for the tab list: Tab leaves it.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.getAttribute('role')") != "tab"
    # A file open (with none, the editor takes no input, so Tab has nothing to indent).
    page.evaluate("() => window.muelleEditor.openWith('teclado.txt', 'hola\\n')")
    page.wait_for_function("() => window.muelleEditor.path === 'teclado.txt'", timeout=READY_MS)
    page.keyboard.press("Alt+Shift+E")
    assert page.get_by_role("tab", name="Editor").get_attribute("aria-selected") == "true"
    page.wait_for_function("() => document.activeElement.classList.contains('cm-content')")
    # Tab indents inside the text; Escape then Tab leaves it (no keyboard trap).
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.classList.contains('cm-content')")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert not page.evaluate("() => document.activeElement.classList.contains('cm-content')")
    page.keyboard.press("Alt+Shift+V")
    assert page.get_by_role("tab", name="Vista").get_attribute("aria-selected") == "true"
    assert page.evaluate("() => document.activeElement.id") == "preview-port"
    assert "Alt" in page.locator(".workspace-help").inner_text()


def test_a_phone_screen_stacks_without_sideways_scrolling(browser: Any, lesson_url: str) -> None:
    context = browser.new_context(locale="es-ES", viewport={"width": 375, "height": 740})
    phone = context.new_page()
    try:
        phone.goto(lesson_url)
        phone.wait_for_function("() => window.muelleEditor && window.muelleWorkspace")
        for tab in ("Terminal", "Editor", "Vista"):
            phone.get_by_role("tab", name=tab, exact=True).click()
            wide = phone.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert wide <= 0, (tab, wide)
        lesson = phone.locator("#lesson-content").bounding_box()
        workspace = phone.locator("#workspace").bounding_box()
        assert workspace["y"] >= lesson["y"] + lesson["height"] - 1  # stacked below the lesson
        assert workspace["width"] <= 375
    finally:
        context.close()
