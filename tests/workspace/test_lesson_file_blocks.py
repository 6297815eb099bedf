"""Lesson blocks that fill a file (```dockerfile archivo=Dockerfile): rendered with «Abrir en el
editor», validated by check_lessons, never forgeable from a lesson's raw HTML."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from lessons import codeblocks
from lessons.rendering import render_markdown
from tests.lessons.conftest import lesson_text

BLOCKS = """\
## Tu Dockerfile

```dockerfile archivo=Dockerfile
FROM muelle/hola
```

```yaml archivo="web/compose.yaml"
services: {}
```

```bash ejecutable
docker build -t mia .
```
"""


def test_a_file_block_gets_the_editor_button_and_its_path() -> None:
    html = render_markdown(BLOCKS).html
    assert html.count('data-action="open-file"') == 2
    assert 'data-file="Dockerfile"' in html
    assert 'data-file="web/compose.yaml"' in html
    assert "Abrir en el editor" in html
    assert 'aria-label="Abrir Dockerfile en el editor"' in html
    # The runnable block is untouched: no file, its Ejecutar button.
    assert html.count('data-action="run"') == 1
    assert html.count("data-file=") == 2


@pytest.mark.parametrize(
    "value", ["../fuera", "/etc/passwd", "~/x", "a/../../b", '"a b"', "a;rm", "$(id)", '"x"y']
)
def test_a_file_outside_the_home_or_odd_gets_no_button(value: str) -> None:
    assert codeblocks.file_option(value) is None
    html = render_markdown(f"```text archivo={value}\nhola\n```\n").html
    assert "open-file" not in html
    assert "data-file" not in html


def test_paths_are_normalised() -> None:
    assert codeblocks.file_option("./web//index.html") == "web/index.html"
    assert codeblocks.file_option("Dockerfile") == "Dockerfile"


def test_raw_html_cannot_forge_a_file_block() -> None:
    forged = '<div data-muelle-code="0123456789abcdef:copy:f0"><pre><code>x</code></pre></div>\n'
    html = render_markdown("```text archivo=ok.txt\nok\n```\n\n" + forged).html
    assert html.count("data-file=") == 1
    assert html.count("data-muelle-code") == 0


@pytest.fixture
def lessons_dir(tmp_path: Path, settings: Any, db: None) -> Path:
    root = tmp_path / "lecciones"
    root.mkdir()
    settings.LESSONS_DIR = root
    return root


def _check() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("check_lessons", stdout=out, stderr=io.StringIO())
        return 0, out.getvalue()
    except CommandError as exc:
        return exc.returncode, out.getvalue()


def test_check_lessons_accepts_file_blocks(lessons_dir: Path) -> None:
    (lessons_dir / "01-a.md").write_text(lesson_text(BLOCKS), encoding="utf-8")
    code, out = _check()
    assert code == 0, out
    assert "no reconocidas" not in out
    assert "archivo" not in out


def test_check_lessons_reports_a_file_outside_the_home(lessons_dir: Path) -> None:
    body = "## Mal\n\n```dockerfile archivo=../Dockerfile\nFROM x\n```\n"
    (lessons_dir / "01-a.md").write_text(lesson_text(body), encoding="utf-8")
    code, out = _check()
    assert code == 1
    [line] = [line for line in out.splitlines() if "archivo=../Dockerfile" in line]
    assert ": error: " in line
    assert "ruta relativa a la carpeta personal" in line
