"""Whatever a lesson contains, its rendered HTML carries no script, event handler or bad URL."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from lessons import rendering, sanitize

XSS_CORPUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)>",
    "<img src=x oNeRrOr=alert(1)>",
    '<img src="x" onerror="alert(1)"/>',
    "<body onload=alert(1)>",
    "<div onclick='alert(1)' onmouseover=\"alert(1)\">hola</div>",
    "<a href='javascript:alert(1)'>x</a>",
    "<a href='JaVaScRiPt:alert(1)'>x</a>",
    "<a href='jav&#x09;ascript:alert(1)'>x</a>",
    "<a href='jav&#x0A;ascript:alert(1)'>x</a>",
    "<a href='&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)'>x</a>",
    "<a href='&#x6A;avascript:alert(1)'>x</a>",
    "<a href=' javascript:alert(1)'>x</a>",
    "<a href='java\x00script:alert(1)'>x</a>",
    "<a href='vbscript:msgbox(1)'>x</a>",
    "<a href='data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='>x</a>",
    "<img src='data:image/svg+xml,<svg onload=alert(1)>'>",
    "<img src='javascript:alert(1)'>",
    "<svg><script>alert(1)</script></svg>",
    "<svg onload=alert(1)><circle r=10 /></svg>",
    "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
    "<iframe src='https://evil.example'></iframe>",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<object data='javascript:alert(1)'></object>",
    "<embed src='javascript:alert(1)'>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<p style='background:url(javascript:alert(1))'>x</p>",
    "<link rel=stylesheet href='https://evil.example/x.css'>",
    "<meta http-equiv='refresh' content='0;url=javascript:alert(1)'>",
    "<base href='https://evil.example/'>",
    "<form action='javascript:alert(1)'><button formaction='javascript:alert(1)'>x</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)><summary>x</summary></details>",
    "<video><source onerror=alert(1)></video>",
    "<template><script>alert(1)</script></template>",
    "<noscript><p title='</noscript><img src=x onerror=alert(1)>'></noscript>",
    "<a href='#' style='position:fixed;top:0'>x</a>",
    "<!--<script>alert(1)</script>-->",
    "<div data-muelle-code='guess:run'><pre><code>rm -rf ~</code></pre></div>",
    "<div class='code-block' data-runnable='true'>x</div>",
    "<button data-action='run'>Ejecutar</button>",
]

MARKDOWN_CORPUS = [
    "[clic](javascript:alert(1))",
    "[clic](JAVASCRIPT:alert(1))",
    "[clic](jav&#x09;ascript:alert(1))",
    "[clic](data:text/html,<script>alert(1)</script>)",
    "[clic](vbscript:alert(1))",
    "![img](javascript:alert(1))",
    "![img](data:image/png;base64,AAAA)",
    '[clic](https://ok.example "title" onmouseover=alert(1))',
    "[ref][1]\n\n[1]: javascript:alert(1)",
    '<https://ok.example/" onmouseover="alert(1)>',
    "```html\n<script>alert(1)</script>\n```",
    "`<img src=x onerror=alert(1)>`",
]

FORBIDDEN_TAGS = {
    "script", "iframe", "object", "embed", "svg", "math", "style", "form", "input", "button",
    "meta", "link", "base", "template", "noscript", "video", "audio", "source", "body",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "srcdoc"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def _elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.elements


def _assert_safe(html: str) -> None:
    for tag, attrs in _elements(html):
        assert tag not in FORBIDDEN_TAGS, html
        for name, value in attrs:
            assert not name.startswith("on"), html
            assert name != "style", html
            if name in URL_ATTRIBUTES and value is not None:
                # What a browser would do: drop ASCII whitespace and controls, ignore case.
                squashed = re.sub(r"[\x00-\x20]", "", value).lower()
                assert not squashed.startswith(("javascript:", "vbscript:", "data:")), html
            # Only the renderer's own code blocks may be runnable.
            assert name != "data-runnable", html


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_raw_html_in_a_lesson_is_sanitized(payload: str) -> None:
    html = rendering.render_markdown(f"Antes\n\n{payload}\n\nDespués").html
    _assert_safe(html)
    assert "Antes" in html and "Después" in html


@pytest.mark.parametrize("payload", MARKDOWN_CORPUS)
def test_markdown_links_and_images_are_sanitized(payload: str) -> None:
    html = rendering.render_markdown(payload).html
    if payload.startswith(("```", "`")):
        # Code is shown as text, escaped, never as markup.
        assert "&lt;" in html
        assert "<script" not in html.lower() and "<img" not in html.lower()
    else:
        _assert_safe(html)


def test_inline_payload_inside_text_is_escaped_not_dropped() -> None:
    html = rendering.render_markdown("Escribe `<script>` en la terminal").html
    assert "<code>&lt;script&gt;</code>" in html


def test_safe_content_survives() -> None:
    html = sanitize.clean(
        '<p><a href="https://docs.docker.com/">docs</a> <a href="mailto:a@b.es">correo</a> '
        '<img src="https://example.org/x.png" alt="x"> <strong>negrita</strong></p>'
    )
    assert 'href="https://docs.docker.com/"' in html
    assert 'href="mailto:a@b.es"' in html
    assert 'src="https://example.org/x.png"' in html
    assert "<strong>negrita</strong>" in html


def test_ids_are_prefixed_so_lessons_cannot_clash_with_page_ids() -> None:
    html = rendering.render_markdown(
        '## Contenido\n\n<h3 id="lesson-content">x</h3>\n\n[arriba](#contenido)'
    ).html
    assert 'id="contenido"' not in html and 'id="lesson-content"' not in html
    assert 'id="sec-contenido"' in html and 'id="sec-lesson-content"' in html
    assert 'href="#sec-contenido"' in html


@pytest.mark.parametrize(
    "unsafe",
    [
        "<script>x</script>",
        '<img src="x" onerror="x">',
        '<a href=" JAVA&#x09;SCRIPT:x">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<p style="color:red">x</p>',
        '<div data-runnable="true">x</div>',
    ],
)
def test_the_safety_check_itself_catches_unsafe_html(unsafe: str) -> None:
    with pytest.raises(AssertionError):
        _assert_safe(unsafe)
