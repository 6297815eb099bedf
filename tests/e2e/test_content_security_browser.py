"""Muelle's pages under their Content-Security-Policy (tutorial/content_security.py), in real
Chromium: a lesson with its terminal, its editor (CodeMirror through the import map, the one
inline script) and its exercises runs without a single violation; and markup slipped into the
page, as an escaping mistake would let a container's or a student's text in, runs no script."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.lessons.conftest import lesson_text

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

TEST_INSTANCE = f"pytest-e2e-csp-{os.getpid()}"
READY_MS = 60_000  # a cold container on a busy machine; a bound, not an assertion

LESSON = """\
## Un archivo

```dockerfile archivo=proyecto/Dockerfile
FROM muelle/hola
```

```bash ejecutable
echo hola
```
"""


@pytest.fixture
def lesson_url(serve_lessons: Callable[..., str]) -> str:
    lessons = {"01-csp.md": lesson_text(LESSON, slug="csp", titulo="La política")}
    return serve_lessons(TEST_INSTANCE, lessons, "csp")


def test_a_lesson_with_terminal_and_editor_runs_without_a_violation(
    page: Any, lesson_url: str
) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    response = page.goto(lesson_url)
    policy = response.headers["content-security-policy"]
    assert (
        "script-src 'self' 'sha256-" in policy
        and "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    )
    page.wait_for_function(
        "() => window.muelleTerminal && window.muelleTerminal.state === 'ready'", timeout=READY_MS
    )
    page.wait_for_function("() => window.muelleEditor && window.muelleWorkspace")
    page.get_by_role("button", name="Abrir proyecto/Dockerfile en el editor").click()
    page.wait_for_function("() => window.muelleEditor.path === 'proyecto/Dockerfile'")
    assert page.locator(".cm-content").inner_text().strip() == "FROM muelle/hola"
    page.evaluate("() => window.muelleTerminal.run('echo hola-$((40+2))')")
    page.wait_for_function(
        "() => window.muelleTerminal.lines().includes('hola-42')", timeout=READY_MS
    )
    assert violations == []


def test_markup_slipped_into_a_page_runs_no_script(page: Any, lesson_url: str) -> None:
    page.goto(lesson_url)
    page.evaluate(
        """() => {
            document.addEventListener('securitypolicyviolation',
                (event) => { window.refused = event.violatedDirective; });
            document.body.insertAdjacentHTML('beforeend',
                '<img src="/no-existe.png" onerror="window.ran = true">');
        }"""
    )
    page.wait_for_function("() => window.refused !== undefined")
    assert page.evaluate("() => window.refused").startswith("script-src")
    assert page.evaluate("() => window.ran") is None
