"""A check's message shows its `code` spans as code, and nothing else of it as HTML (a student
walkthrough saw every message's backticks)."""

from __future__ import annotations

from django.template import engines


def _shown(message: str) -> str:
    template = engines["django"].from_string("{% load exercises %}{{ m|inline_code }}")
    return template.render({"m": message})


def test_backticks_are_code_and_the_rest_is_text() -> None:
    assert _shown("No encontramos `~/hola.txt` con «hola».") == (
        "No encontramos <code>~/hola.txt</code> con «hola»."
    )
    assert _shown("Mira `docker ps -a` y `docker logs web`") == (
        "Mira <code>docker ps -a</code> y <code>docker logs web</code>"
    )
    assert _shown("`<script>alert(1)</script>` & <b>") == (
        "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code> &amp; &lt;b&gt;"
    )
    assert _shown("un ` suelto") == "un ` suelto"
