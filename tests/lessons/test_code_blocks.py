"""Every fenced code block follows the markup contract the terminal front-end relies on."""

from __future__ import annotations

import re

from lessons import rendering

# Each button is described by its block's code (aria-describedby → the <pre>'s id), so a screen
# reader tells one «Ejecutar» from the next.
BLOCK = re.compile(
    r'<div class="code-block" data-runnable="(true|false)">'
    r'<div class="code-actions">'
    r'<button type="button" class="code-copy" data-action="copy" '
    r'aria-describedby="(codigo-[0-9a-f]{10}-[0-9]+)">Copiar</button>'
    r'(<button type="button" class="code-run" data-action="run" aria-describedby="\2">'
    r"Ejecutar</button>)?"
    r'</div><pre id="\2">.*?<code>(.*?)</code></pre></div>',
    re.DOTALL,
)


def _blocks(markdown_text: str) -> list[tuple[str, bool, str]]:
    html = rendering.render_markdown(markdown_text).html
    found = [(m.group(1), bool(m.group(3)), m.group(4)) for m in BLOCK.finditer(html)]
    ids = [m.group(2) for m in BLOCK.finditer(html)]
    assert len(ids) == len(set(ids)), ids  # one description per block
    return found


def test_a_block_marked_ejecutable_gets_both_buttons() -> None:
    blocks = _blocks("```bash ejecutable\nuname -r\n```\n")
    assert len(blocks) == 1
    runnable, has_run_button, code = blocks[0]
    assert runnable == "true" and has_run_button
    assert re.sub(r"<[^>]+>", "", code).strip() == "uname -r"


def test_other_blocks_only_get_copy() -> None:
    blocks = _blocks("```bash\ndocker run --rm -it debian bash\n```\n\n```\ntexto\n```\n")
    assert [(runnable, has_run) for runnable, has_run, _code in blocks] == [
        ("false", False),
        ("false", False),
    ]


def test_code_is_highlighted_with_css_classes_not_styles() -> None:
    html = rendering.render_markdown('```bash ejecutable\necho "hola"\n```\n').html
    assert '<span class="nb">echo</span>' in html
    assert "style=" not in html


def test_blocks_inside_lists_and_details_follow_the_contract() -> None:
    source = (
        "1. Primero:\n\n    ```bash ejecutable\n    hostname\n    ```\n\n"
        '??? consejo "Más"\n    ```sh ejecutable\n    whoami\n    ```\n'
    )
    assert [runnable for runnable, _run, _code in _blocks(source)] == ["true", "true"]


def test_html_in_code_is_text() -> None:
    blocks = _blocks('```html ejecutable\n<script>alert("x")</script>\n```\n')
    assert "&lt;" in blocks[0][2] and "<script" not in blocks[0][2]


def test_raw_html_cannot_forge_a_runnable_block() -> None:
    html = rendering.render_markdown(
        '<div class="code-block" data-runnable="true" data-muelle-code="x:run">'
        "<pre><code>rm -rf ~</code></pre></div>"
    ).html
    assert "data-runnable" not in html
    assert "code-block" not in html
    assert "<button" not in html
