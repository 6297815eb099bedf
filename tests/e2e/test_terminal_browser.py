"""The lesson page's terminal in a real browser, against the real engine: xterm.js, the websocket,
"Ejecutar"/"Copiar" on code blocks, htmx navigation, reattaching and the close codes the page acts
on (docs/terminal-frontend.md, docs/terminal-protocol.md)."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from .lesson_site import remove_instance_containers

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

RESULTS = Path(django_settings.BASE_DIR) / "test-results"
TEST_INSTANCE = f"pytest-e2e-terminal-{os.getpid()}"
# Generous bounds for a cold container on a busy CI machine; they are limits, not assertions.
READY_MS = 60_000
OUTPUT_MS = 20_000
SHELL_PID = re.compile(r"^pid:(\d+)$")


@pytest.fixture
def sandbox_settings(settings: Any) -> Iterator[Any]:
    # Containers of these tests carry their own instance label, so teardown removes exactly them.
    settings.SANDBOX_INSTANCE = TEST_INSTANCE
    settings.SANDBOX_WARM_POOL = 0
    yield settings
    remove_instance_containers(TEST_INSTANCE)


@pytest.fixture
def lesson_urls(live_asgi_server: str, page: Any, sandbox_settings: Any) -> list[str]:
    """The lessons' URLs in course order, as the index links them."""
    page.goto(live_asgi_server + "/")
    hrefs = page.eval_on_selector_all(
        "a[href^='/lecciones/']", "links => links.map(a => a.getAttribute('href'))"
    )
    ordered = list(dict.fromkeys(h for h in hrefs if re.fullmatch(r"/lecciones/[\w-]+/", h)))
    assert ordered, "the index links no lesson"
    return [live_asgi_server + h for h in ordered]


RUNNABLE_BLOCK = re.compile(
    r'<div class="code-block" data-runnable="true">.*?<pre[^>]*><code>(.*?)</code></pre>', re.S
)
PLAIN_ECHO = re.compile(r'echo "([^"$`\\]*)"')


@pytest.fixture
def echo_block(lesson_urls: list[str], page: Any) -> tuple[str, str, str]:
    """(lesson URL, command, what it prints) for the course's first runnable block that is a
    single `echo "…"`. Pages are fetched without running their scripts: looking opens no
    terminal."""
    for url in lesson_urls:
        for code in RUNNABLE_BLOCK.findall(page.request.get(url).text()):
            command = html.unescape(re.sub(r"<[^>]+>", "", code)).strip()
            printed = PLAIN_ECHO.fullmatch(command)
            if printed:
                return url, command, printed.group(1)
    raise AssertionError("no lesson has a runnable block that is a plain echo")


def open_lesson(page: Any, url: str) -> None:
    page.goto(url)
    wait_ready(page)


def wait_ready(page: Any) -> None:
    """Waits for the terminal's `ready`; fails at once, with the page's explanation, if the
    connection ends instead."""
    page.wait_for_function(
        "() => window.muelleTerminal && ['ready', 'ended'].includes(window.muelleTerminal.state)",
        timeout=READY_MS,
    )
    notice = page.locator("[data-terminal-notice]").inner_text()
    assert page.evaluate("window.muelleTerminal.state") == "ready", f"terminal ended: {notice}"


def lines(page: Any) -> list[str]:
    return page.evaluate("window.muelleTerminal.lines()")


def wait_for_line(page: Any, pattern: str) -> str:
    """Waits until a line of the terminal's buffer matches `pattern` (a JS regex); returns it."""
    page.wait_for_function(
        "re => window.muelleTerminal.lines().some(l => new RegExp(re).test(l))",
        arg=pattern,
        timeout=OUTPUT_MS,
    )
    return next(line for line in lines(page) if re.search(pattern, line))


def type_in_terminal(page: Any, text: str) -> None:
    page.locator("[data-terminal-screen]").click()
    page.keyboard.type(text)


def shell_pid(page: Any, tag: str) -> str:
    """Asks the terminal's shell for its process id (`echo pid-<tag>:$$`)."""
    type_in_terminal(page, f"echo pid-{tag}:$$\n")
    line = wait_for_line(page, rf"^pid-{tag}:\d+$")
    return line.split(":")[1]


def runnable_block(page: Any) -> Any:
    return page.locator(".code-block[data-runnable='true']").filter(
        has=page.locator("[data-action='run']")
    )


def code_of(block: Any) -> str:
    return block.locator("pre code").inner_text().rstrip("\n")


# --- Tests ---------------------------------------------------------------------------------------


def test_ejecutar_runs_a_lesson_command_and_its_output_shows_in_the_terminal(
    echo_block: tuple[str, str, str], page: Any
) -> None:
    url, command, printed = echo_block
    open_lesson(page, url)
    status = page.locator("[data-terminal-status]")
    assert status.get_attribute("role") == "status"
    assert status.inner_text() == "Lista"
    assert re.search(r"\d+:\d\d", page.locator("[data-terminal-countdown]").inner_text())

    block = runnable_block(page).filter(has=page.get_by_text(command, exact=True)).first
    block.locator("[data-action='run']").click()

    wait_for_line(page, "^" + re.escape(printed) + "$")
    assert page.evaluate("document.activeElement === window.muelleTerminal.term.textarea")
    type_in_terminal(page, 'echo "estado:$?"\n')
    wait_for_line(page, r"^estado:0$")

    RESULTS.mkdir(exist_ok=True)
    shot = RESULTS / "terminal-lesson.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.is_file() and shot.stat().st_size > 0


def test_a_first_visit_straight_to_any_lesson_gets_a_terminal(
    lesson_urls: list[str], page: Any
) -> None:
    # The handshake needs a Django session (4403 otherwise), so every lesson page must make one,
    # not only the pages that happen to store something in it.
    refused = {}
    for url in lesson_urls:
        page.context.clear_cookies()
        try:
            open_lesson(page, url)
        except AssertionError as failure:
            refused[url] = str(failure)
    assert not refused


def test_ejecutar_sends_every_line_of_a_block(lesson_urls: list[str], page: Any) -> None:
    open_lesson(page, lesson_urls[0])
    # A block with a known output, made the way the lesson HTML makes them.
    page.evaluate(
        """() => {
          const block = document.createElement('div');
          block.className = 'code-block'; block.dataset.runnable = 'true'; block.id = 'probe';
          block.innerHTML = '<div class="code-actions"><button type="button" class="code-run"'
            + ' data-action="run">Ejecutar</button></div><pre><code>printf "%s-%s\\\\n" uno dos\\n'
            + 'echo ñandú\\n</code></pre>';
          document.querySelector('main').prepend(block);
        }"""
    )
    page.locator("#probe [data-action='run']").click()
    wait_for_line(page, r"^uno-dos$")
    wait_for_line(page, r"^ñandú$")


def test_copiar_puts_the_code_in_the_clipboard(
    echo_block: tuple[str, str, str], page: Any, live_asgi_server: str
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_asgi_server)
    open_lesson(page, echo_block[0])
    block = page.locator(".code-block").first
    block.locator("[data-action='copy']").click()
    page.wait_for_function(
        "() => document.querySelector('[data-terminal-announcer]').textContent === 'Copiado'"
    )
    assert page.evaluate("navigator.clipboard.readText()") == code_of(block)


def test_htmx_navigation_to_the_next_lesson_keeps_the_same_shell(
    lesson_urls: list[str], page: Any
) -> None:
    assert len(lesson_urls) >= 2, "needs two lessons"
    open_lesson(page, lesson_urls[0])
    before = shell_pid(page, "antes")
    page.evaluate("window.__samePage = true")

    next_link = page.locator("a[rel='next']").first
    next_link.click()
    page.wait_for_url(lesson_urls[1])

    assert page.evaluate("window.__samePage === true"), "htmx should not have reloaded the page"
    assert page.evaluate("window.muelleTerminal.state") == "ready"
    assert shell_pid(page, "despues") == before

    # Back restores the previous lesson from htmx's history, still around the same terminal.
    page.go_back()
    page.wait_for_url(lesson_urls[0])
    assert page.evaluate("window.__samePage === true")
    assert page.locator("[data-terminal]").count() == 1
    assert shell_pid(page, "atras") == before


def test_a_reload_reattaches_to_the_same_shell(lesson_urls: list[str], page: Any) -> None:
    open_lesson(page, lesson_urls[0])
    before = shell_pid(page, "antes")
    # A program that asks where the cursor is, as busybox's shell does at every prompt: live,
    # it reads xterm's answer itself. Replayed after the reload, the answer went to the shell
    # («;5R» before the next command, which failed).
    type_in_terminal(page, "read -rs -d R -p $'\\e[6n' donde; echo pregunta-hecha\n")
    wait_for_line(page, r"^pregunta-hecha$")
    page.reload()
    wait_ready(page)
    # The replay of recent output brings back what was on screen.
    wait_for_line(page, rf"^pid-antes:{before}$")
    assert shell_pid(page, "despues") == before


def test_ctrl_c_stops_a_flood_and_the_page_keeps_answering(
    lesson_urls: list[str], page: Any
) -> None:
    open_lesson(page, lesson_urls[0])
    type_in_terminal(page, "yes muelle\n")
    wait_for_line(page, r"^muelle$")
    # The page still runs scripts and paints while output pours in.
    assert page.evaluate("new Promise(r => requestAnimationFrame(() => r(true)))")
    page.keyboard.press("Control+c")
    page.keyboard.type("echo parado\n")
    wait_for_line(page, r"^parado$")


def test_copy_and_paste_shortcuts_in_the_terminal(
    lesson_urls: list[str], page: Any, live_asgi_server: str
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_asgi_server)
    open_lesson(page, lesson_urls[0])
    type_in_terminal(page, "echo copiame\n")
    wait_for_line(page, r"^copiame$")
    row = next(i for i, line in enumerate(lines(page)) if line == "copiame")
    page.evaluate(f"window.muelleTerminal.term.selectLines({row}, {row})")
    page.keyboard.press("Control+Shift+C")
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t.trim() === 'copiame')")

    # Ctrl+C with a selection copies and does not interrupt: the half-typed line survives.
    page.keyboard.type("echo mitad")
    page.evaluate(f"window.muelleTerminal.term.selectLines({row}, {row})")
    page.evaluate("navigator.clipboard.writeText('')")
    page.keyboard.press("Control+c")
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t.trim() === 'copiame')")
    page.keyboard.type("-entera\n")
    wait_for_line(page, r"^mitad-entera$")

    page.evaluate("navigator.clipboard.writeText('echo pegado-$((20+22))')")
    page.locator("[data-terminal-screen]").click()
    page.keyboard.press("Control+v")
    page.keyboard.press("Enter")
    wait_for_line(page, r"^pegado-42$")

    # Tab belongs to the shell, but Shift+Tab leaves the terminal: no keyboard trap.
    page.keyboard.press("Shift+Tab")
    assert not page.evaluate("document.activeElement === window.muelleTerminal.term.textarea")


def test_the_screen_reader_mode_is_a_remembered_toggle(lesson_urls: list[str], page: Any) -> None:
    open_lesson(page, lesson_urls[0])
    toggle = page.locator("[data-terminal-action='screen-reader']")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.press("Enter")
    assert toggle.get_attribute("aria-pressed") == "true"
    assert page.evaluate("window.muelleTerminal.term.options.screenReaderMode") is True

    page.reload()
    wait_ready(page)
    assert page.locator("[data-terminal-action='screen-reader']").get_attribute("aria-pressed") == (
        "true"
    )
    assert page.evaluate("window.muelleTerminal.term.options.screenReaderMode") is True
    # xterm's accessibility tree mirrors the screen for assistive technology.
    type_in_terminal(page, "echo accesible\n")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.xterm-accessibility-tree > div')]"
        ".some(row => row.textContent.trim() === 'accesible')",
        timeout=OUTPUT_MS,
    )


def test_a_terminal_taken_by_another_tab_says_so_and_can_be_taken_back(
    lesson_urls: list[str], page: Any
) -> None:
    open_lesson(page, lesson_urls[0])
    before = shell_pid(page, "antes")
    terminal_id = page.evaluate("sessionStorage.getItem('muelle.terminal.id')")

    # A duplicated tab copies sessionStorage, so it asks for the same terminal.
    other = page.context.new_page()
    other.add_init_script(f"sessionStorage.setItem('muelle.terminal.id', '{terminal_id}')")
    open_lesson(other, lesson_urls[0])

    page.wait_for_function("() => window.muelleTerminal.state === 'ended'", timeout=OUTPUT_MS)
    assert "otra pestaña" in page.locator("[data-terminal-notice]").inner_text()
    take_back = page.locator("[data-terminal-action='reconnect']")
    assert take_back.is_visible()
    assert take_back.inner_text() == "Usar la terminal aquí"

    take_back.click()
    wait_ready(page)
    assert shell_pid(page, "despues") == before


def test_an_idle_sandbox_warns_ends_and_offers_a_new_one(
    lesson_urls: list[str], page: Any, sandbox_settings: Any
) -> None:
    sandbox_settings.SANDBOX_IDLE_TIMEOUT = 10
    sandbox_settings.SANDBOX_EXPIRY_WARNING = 5
    open_lesson(page, lesson_urls[0])
    old_id = page.evaluate("sessionStorage.getItem('muelle.terminal.id')")

    page.wait_for_function(
        "() => document.querySelector('[data-terminal-notice]')"
        ".textContent.includes('inactividad')",
        timeout=OUTPUT_MS,
    )
    assert page.locator("[data-terminal-countdown]").get_attribute("data-urgent") == "true"
    page.wait_for_function("() => window.muelleTerminal.state === 'ended'", timeout=OUTPUT_MS)
    assert page.locator("[data-terminal-status]").inner_text() == "Terminada"
    fresh = page.locator("[data-terminal-action='fresh']")
    assert fresh.is_visible()

    sandbox_settings.SANDBOX_IDLE_TIMEOUT = 600
    fresh.click()
    wait_ready(page)
    assert page.evaluate("sessionStorage.getItem('muelle.terminal.id')") != old_id
    assert "nuevo" in page.locator("[data-terminal-notice]").inner_text()


def test_the_separator_widens_the_terminal_and_the_shell_gets_its_size(
    lesson_urls: list[str], page: Any
) -> None:
    # The page's 1280 px: the terminal had 53 columns before the separator and the even split.
    open_lesson(page, lesson_urls[0])
    cols = "window.muelleTerminal.term.cols"
    first = page.evaluate(cols)
    assert first >= 60, first
    separator = page.get_by_role("separator", name="Ancho de la lección frente a la terminal")
    assert separator.get_attribute("aria-valuenow") == "50"

    separator.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert separator.get_attribute("aria-valuenow") == "40"
    assert separator.get_attribute("aria-valuetext") == "La lección ocupa el 40 % del ancho"
    page.wait_for_function("n => window.muelleTerminal.term.cols > n", arg=first)
    wider = page.evaluate(cols)
    # The shell sees the new width, not only xterm.js.
    type_in_terminal(page, 'echo "tamano:$(stty size)"\n')
    assert wait_for_line(page, r"^tamano:\d+ \d+$").split()[-1] == str(wider)

    # Dragged to 65 % of the layout: the lesson wins width back, the terminal loses columns.
    box = separator.bounding_box()
    layout = page.locator(".lesson-layout").bounding_box()
    assert box is not None and layout is not None
    page.mouse.move(box["x"] + box["width"] / 2, 450)
    page.mouse.down()
    page.mouse.move(layout["x"] + layout["width"] * 0.65, 450, steps=5)
    page.mouse.up()
    assert separator.get_attribute("aria-valuenow") == "65"
    page.wait_for_function("n => window.muelleTerminal.term.cols < n", arg=first)

    # Remembered: the next page opens with the student's split; End is the widest lesson.
    page.reload()
    wait_ready(page)
    assert separator.get_attribute("aria-valuenow") == "65"
    separator.focus()
    page.keyboard.press("End")
    assert separator.get_attribute("aria-valuenow") == "70"

    # Stacked on a phone: nothing to drag.
    page.set_viewport_size({"width": 375, "height": 800})
    assert not separator.is_visible()


def test_ejecutar_types_nothing_while_a_command_has_the_terminal(
    echo_block: tuple[str, str, str], page: Any
) -> None:
    # As a student still inside `docker exec -it caja sh` clicks the next block: the command
    # went to the container's shell («docker: not found»), or was lost at the next Ctrl+C.
    url, command, printed = echo_block
    open_lesson(page, url)
    run = (
        runnable_block(page)
        .filter(has=page.get_by_text(command, exact=True))
        .first.locator("[data-action='run']")
    )
    notice = page.locator("[data-terminal-notice]")
    send_now = page.get_by_role("button", name="Enviarlo ya")
    drop = page.get_by_role("button", name="No enviarlo")
    assert not send_now.is_visible() and not drop.is_visible()

    def printed_lines() -> int:
        return sum(line == printed for line in lines(page))

    def end_cat() -> None:
        page.locator("[data-terminal-screen]").click()
        page.keyboard.press("Control+C")
        page.wait_for_function("() => !window.muelleTerminal.busy")

    type_in_terminal(page, "cat\n")  # a program that reads what is typed
    page.wait_for_function("() => window.muelleTerminal.busy")
    run.click()
    run.click()
    assert "Hay un comando en marcha en esta terminal" in notice.inner_text()
    assert send_now.is_visible() and drop.is_visible()
    page.wait_for_timeout(300)  # what would have been typed would show by now (echo)
    assert not any(command in line for line in lines(page)), lines(page)

    # The prompt is back: the page says so, and nothing was typed by itself.
    end_cat()
    assert "La terminal vuelve a estar libre" in notice.inner_text()
    assert not send_now.is_visible() and not drop.is_visible()
    run.click()
    wait_for_line(page, "^" + re.escape(printed) + "$")
    assert printed_lines() == 1

    # Two runs before the first one's mark is back (a double click on `docker exec -it …`):
    # the second is not typed into what the first starts.
    sent = page.evaluate(
        "c => [window.muelleTerminal.run(c), window.muelleTerminal.run(c)]", command
    )
    assert sent == [True, False]
    page.wait_for_function(
        "p => window.muelleTerminal.lines().filter(l => l === p).length === 2", arg=printed
    )
    page.wait_for_function("() => !window.muelleTerminal.busy")
    page.wait_for_timeout(300)
    assert printed_lines() == 2

    # «No enviarlo» forgets it.
    type_in_terminal(page, "cat\n")
    page.wait_for_function("() => window.muelleTerminal.busy")
    run.click()
    drop.click()
    assert notice.inner_text() == "" and not drop.is_visible()

    # «Enviarlo ya»: typed into the program on purpose.
    run.click()
    send_now.click()
    assert not send_now.is_visible()
    page.wait_for_function(
        "c => window.muelleTerminal.lines().filter(l => l === c).length >= 2", arg=command
    )  # the terminal's echo, and cat's own copy

    # After a reload the replayed screen carries the marks: cat still has the terminal.
    page.reload()
    wait_ready(page)
    page.wait_for_function("() => window.muelleTerminal.busy")
    end_cat()
    assert printed_lines() == 2

    # A shell that ended (exit) is no command running: «Ejecutar» reconnects and runs it.
    type_in_terminal(page, "exit\n")
    page.wait_for_function("() => window.muelleTerminal.state === 'ended'", timeout=READY_MS)
    run.click()
    wait_ready(page)
    page.wait_for_function(
        "p => window.muelleTerminal.lines().includes(p)", arg=printed, timeout=OUTPUT_MS
    )


# What the browser reports when the network drops a websocket (1006, never sent by a server),
# made on demand: each socket the page opens gets a drop() that hands the page's own close
# handler that event and then closes the socket for real. Only the network is stood in for.
DROPPABLE_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  const made = (window.__muelleSockets = []);
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      made.push(this);
    }
    drop() {
      if (this.onclose) this.onclose(new CloseEvent("close", { code: 1006 }));
      this.close();
    }
  };
})();
"""


def test_the_page_lifecycle_brings_the_terminal_back_at_once(
    lesson_urls: list[str], page: Any
) -> None:
    """`online` and a page restored from the back/forward cache reconnect without waiting out
    the backoff; while the page is being left (`pagehide`), a dropped socket starts no
    reconnect. The page's timers are paused, so only these events can bring the socket back."""
    page.add_init_script(DROPPABLE_SOCKETS)
    page.clock.install()
    open_lesson(page, lesson_urls[0])
    before = shell_pid(page, "antes")
    page.clock.pause_at(page.evaluate("() => Date.now()") + 1_000)

    def sockets() -> int:
        return int(page.evaluate("() => window.__muelleSockets.length"))

    def drop() -> None:
        page.evaluate("() => window.__muelleSockets.at(-1).drop()")

    def fire(script: str) -> None:
        page.evaluate(script)

    # The network comes back: the next attempt goes now, not when the backoff timer says.
    made = sockets()
    drop()
    assert page.evaluate("window.muelleTerminal.state") == "reconnecting"
    fire("() => window.dispatchEvent(new Event('online'))")
    wait_ready(page)
    assert sockets() == made + 1

    # Leaving the page: the socket the browser closes is not reconnected...
    notice = page.locator("[data-terminal-notice]")
    said = notice.inner_text()
    fire("() => window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }))")
    drop()
    assert page.evaluate("window.muelleTerminal.state") != "reconnecting"
    assert notice.inner_text() == said  # no «Se ha cortado la conexión…» either
    assert sockets() == made + 1
    # ...and the page restored from the back/forward cache connects again at once.
    fire("() => window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }))")
    wait_ready(page)
    assert sockets() == made + 2

    # Both times the same shell came back (the terminal's id was kept).
    page.clock.resume()
    assert shell_pid(page, "despues") == before
