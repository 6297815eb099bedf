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

import hashlib
import itertools
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
# ```dockerfile archivo=Dockerfile: the block fills that file of the student's home in the
# workspace editor («Abrir en el editor», docs/workspace.md). A relative path under the home.
FILE_OPTION = "archivo"
FILES_ATTRIBUTE = "muelle_code_files"  # the render's file blocks, in marker order (rendering)
_FILE_PART = re.compile(r"[\w.+@-]+")
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
    path = file_option(inputs.get(FILE_OPTION, ""))
    if path:  # an invalid one is ignored here and reported by check_lessons
        options["file"] = path
    return True


# superfences reads option values only when quoted (`archivo="Dockerfile"`); lessons write
# them plain, as the issue and docs/lessons.md show: quoted before conversion.
_PLAIN_FILE_OPTION = re.compile(
    rf"^([ \t>]*(?:`{{3,}}|~{{3,}})[^\n`]*?[ \t]){FILE_OPTION}=([^\s\"'`{{}}]+)", re.MULTILINE
)


def quote_file_options(body: str) -> str:
    return _PLAIN_FILE_OPTION.sub(rf'\1{FILE_OPTION}="\2"', body)


def file_option(value: str) -> str | None:
    """`archivo=`'s value as a normalised path relative to the sandbox home, or None when it is
    not one: absolute, `~`, `..`, empty parts, or characters beyond letters, digits and `._+@-`
    (the editor's own checks are in sandbox.workspace; these keep lessons plain and portable)."""
    value = value.strip()
    if not value or len(value) > 200 or value.startswith(("/", "~")):
        return None
    parts = [part for part in value.split("/") if part not in ("", ".")]
    if not parts or any(part == ".." or not _FILE_PART.fullmatch(part) for part in parts):
        return None
    return "/".join(parts)


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
    if options.get("file"):
        files = getattr(md, FILES_ATTRIBUTE, None)
        if files is None:
            files = []
            setattr(md, FILES_ATTRIBUTE, files)
        kind += f":f{len(files)}"
        files.append(options["file"])
    code = highlight(source, _lexer(language), _FORMATTER)
    return f'<div data-muelle-code="{escape(nonce)}:{kind}"><pre><code>{code}</code></pre></div>'


def superfences_config() -> dict[str, Any]:
    return {
        "custom_fences": [
            {"name": "*", "class": "", "format": format_fence, "validator": validate},
        ],
    }


def add_actions(html: str, nonce: str, files: list[str] | None = None, where: str = "") -> str:
    """Turn the sanitized markers of this render into the code block markup with its buttons.
    `files` are the render's `archivo=` paths, named by index in the markers (`:f0`). `where`
    names this render among the others of its page (an exercise's statement, hint, solution):
    two renders of the same text on one page must not give their blocks the same ids."""
    copy = escape(_("Copiar"))
    run = escape(_("Ejecutar"))
    open_file = escape(_("Abrir en el editor"))
    files = files or []
    count = itertools.count(1)
    # The same for the same text in the same place (pages are compared and cached whole),
    # another for another render on the same page (a lesson's body and an exercise's solution,
    # or two exercises with the same hint).
    source = where.encode() + b"\0" + html.replace(nonce, "").encode()
    prefix = "codigo-" + hashlib.sha256(source).hexdigest()[:10]

    def block(match: re.Match[str]) -> str:
        runnable = match.group(1) == "run"
        index = int(match.group(2)) if match.group(2) else None
        path = files[index] if index is not None and index < len(files) else ""
        # Every block's buttons are named alike («Ejecutar»): each is described by its own code,
        # so a screen reader says which command it runs.
        code_id = f"{prefix}-{next(count)}"
        described = f'aria-describedby="{code_id}"'
        buttons = (
            f'<button type="button" class="code-copy" data-action="copy" {described}>'
            f"{copy}</button>"
        )
        if runnable:
            buttons += (
                f'<button type="button" class="code-run" data-action="run" {described}>'
                f"{run}</button>"
            )
        if path:
            label = escape(_("Abrir %(path)s en el editor") % {"path": path})
            buttons += (
                f'<button type="button" class="code-open" data-action="open-file" '
                f'aria-label="{label}">{open_file}</button>'
            )
        file_attribute = f' data-file="{escape(path)}"' if path else ""
        return (
            f'<div class="code-block" data-runnable="{"true" if runnable else "false"}"'
            f"{file_attribute}>"
            f'<div class="code-actions">{buttons}</div><pre id="{code_id}">'
        )

    return re.sub(
        rf'<div data-muelle-code="{re.escape(nonce)}:(run|copy)(?::f([0-9]{{1,5}}))?"><pre>',
        block,
        html,
    )
