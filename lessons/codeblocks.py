"""Fenced code blocks: highlighting, the "runnable" flag, and the Copiar / Ejecutar buttons.

Instructors mark a block the terminal may run with the word `ejecutable` after the language:

    ```bash ejecutable
    hostname
    ```

Every fenced block ends up as (the terminal front-end, static/sandbox/code-blocks.js, relies on
this exact shape):

    <div class="code-block" data-runnable="true|false">
      <div class="code-actions"><button … data-action="copy">Copiar</button>
        [<button … data-action="run">Ejecutar</button>]</div>
      <pre><code>…</code></pre>
    </div>

The superfences formatter only emits `<div data-muelle-code="NONCE:run|copy"><pre><code>…`; the
sanitizer keeps that marker only with this render's nonce, and `add_actions()` turns surviving
markers into the final markup after sanitizing, so nh3 never has to allow buttons and a lesson's
raw HTML cannot forge a runnable block.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.html import escape
from django.utils.translation import gettext as _
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

RUNNABLE_OPTION = "ejecutable"
# Markers after `ejecutable` for `manage.py run_blocks` (docs/lessons.md): the block is meant to
# fail (a non-zero exit is its success), or needs a person or a TTY / never ends (not run).
EXPECTED_FAILURE_OPTION = "falla"
INTERACTIVE_OPTION = "interactivo"
OPTIONS = {RUNNABLE_OPTION, EXPECTED_FAILURE_OPTION, INTERACTIVE_OPTION}
# Languages whose blocks make sense in the terminal; others get a warning from check_lessons.
SHELL_LANGUAGES = {"", "bash", "sh", "shell", "console", "zsh", "text"}
NONCE_ATTRIBUTE = "muelle_code_nonce"  # set on the Markdown instance by lessons.rendering

_FORMATTER = HtmlFormatter(nowrap=True)


def validate(
    language: str, inputs: dict[str, str], options: dict[str, Any], attrs: dict[str, Any], md: Any
) -> bool:
    """superfences validator: accept every fence, remember `ejecutable`, ignore other options."""
    if inputs.get(RUNNABLE_OPTION) == RUNNABLE_OPTION:
        options["runnable"] = True
    return True


def _lexer(language: str) -> Any:
    if not language:
        return TextLexer()
    try:
        return get_lexer_by_name(language)
    except ClassNotFound:
        return TextLexer()


def format_fence(
    source: str, language: str, class_name: str, options: dict[str, Any], md: Any, **kwargs: Any
) -> str:
    """superfences formatter for every language (registered under the name `*`)."""
    nonce = getattr(md, NONCE_ATTRIBUTE, "")
    kind = "run" if options.get("runnable") else "copy"
    code = highlight(source, _lexer(language), _FORMATTER)
    return f'<div data-muelle-code="{escape(nonce)}:{kind}"><pre><code>{code}</code></pre></div>'


def superfences_config() -> dict[str, Any]:
    return {
        "custom_fences": [
            {"name": "*", "class": "", "format": format_fence, "validator": validate},
        ],
    }


def add_actions(html: str, nonce: str) -> str:
    """Turn the sanitized markers of this render into the code block markup with its buttons."""
    copy = escape(_("Copiar"))
    run = escape(_("Ejecutar"))

    def block(match: re.Match[str]) -> str:
        runnable = match.group(1) == "run"
        buttons = f'<button type="button" class="code-copy" data-action="copy">{copy}</button>'
        if runnable:
            buttons += f'<button type="button" class="code-run" data-action="run">{run}</button>'
        return (
            f'<div class="code-block" data-runnable="{"true" if runnable else "false"}">'
            f'<div class="code-actions">{buttons}</div>'
        )

    return re.sub(rf'<div data-muelle-code="{re.escape(nonce)}:(run|copy)">', block, html)
