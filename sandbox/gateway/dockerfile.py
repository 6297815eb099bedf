"""Checking and re-emitting a student's Dockerfile before the classic builder sees it.

The classic builder runs outside the build's network sandbox for three things: `FROM` (and
`COPY --from`) pull an image that is not local — from any registry, even 127.0.0.1:PORT — and
`ADD <url>` downloads a URL, both from the engine's own network. A base image's `ONBUILD`
triggers run the same way. So every FROM/COPY --from must name an image the student can see
(and is rewritten to its engine name), every ADD source must be a plain context path, and
ONBUILD triggers (the Dockerfile's and the base image's) obey the same rules.

To be sure the builder runs exactly what was checked, the Dockerfile is re-emitted from this
parse: one instruction per line, no continuations or comments. The builder then parses text
with nothing left to interpret differently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from .errors import GatewayError, bad_request, refused

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_IMAGE_TOKEN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._/:@-]{0,254}$")
_STAGE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$")
_PLATFORM = re.compile(r"^[a-z0-9/._-]{1,64}$")
_ADD_SOURCE = re.compile(r"^[A-Za-z0-9_.,/*?\[\]@+=~ -]{1,4096}$")
_CHOWN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_DOCKERFILE = 1024 * 1024


@dataclass
class Instruction:
    keyword: str  # upper case
    rest: str
    line: int  # first line in the student's file


@dataclass(frozen=True)
class BaseImage:
    engine_ref: str
    onbuild: list[str]


# Resolves what the student wrote after FROM to an image they can see (None when none).
ImageResolver = Callable[[str], Awaitable[BaseImage | None]]


def split_instructions(text: str) -> tuple[str, list[Instruction]]:
    """Logical instructions, with the escape character; comments and continuations resolved."""
    escape = "\\"
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    index = 0
    while index < len(lines):  # parser directives: only at the very top
        match = _DIRECTIVE.match(lines[index].strip())
        if not match:
            break
        if match.group(1).lower() == "escape":
            if match.group(2) not in ("\\", "`"):
                raise bad_request(_("Directiva escape no válida en el Dockerfile."))
            escape = match.group(2)
        index += 1
    instructions: list[Instruction] = []
    current: list[str] = []
    start = 0
    for number in range(index, len(lines)):
        stripped = lines[number].strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and (not stripped or stripped.startswith("#")):
            continue  # comments and blank lines inside a continuation are skipped
        if not current:
            start = number + 1
        body = lines[number].rstrip()
        if body.endswith(escape):
            current.append(body[: -len(escape)])
            continue
        current.append(body)
        _add(instructions, "".join(current), start)
        current = []
    if current:
        _add(instructions, "".join(current), start)
    return escape, instructions


def _add(instructions: list[Instruction], text: str, line: int) -> None:
    text = text.strip()
    keyword, _sep, rest = text.partition(" ")
    if "\t" in keyword:
        keyword, _sep, tail = keyword.partition("\t")
        rest = tail + " " + rest
    instructions.append(Instruction(keyword.upper(), rest.strip(), line))


def _flags(rest: str) -> tuple[list[tuple[str, str]], str]:
    flags = []
    while rest.startswith("--"):
        token, _sep, rest = rest.partition(" ")
        name, _eq, value = token[2:].partition("=")
        flags.append((name.lower(), value))
        rest = rest.lstrip()
    return flags, rest


def _refuse(line: int, message: str) -> GatewayError:
    return refused(
        _("Dockerfile, línea %(line)d: %(message)s") % {"line": line, "message": message}
    )


def _json_form(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _check_add(instruction: Instruction, escape: str) -> str:
    flags, rest = _flags(instruction.rest)
    out_flags = []
    for name, value in flags:
        if name != "chown" or not _CHOWN.match(value):
            raise _refuse(instruction.line, _("ADD solo admite la opción --chown."))
        out_flags.append(f"--chown={value}")
    words = _json_form(rest)
    if words is None:
        words = rest.split()
    if len(words) < 2:
        raise _refuse(instruction.line, _("ADD necesita un origen y un destino."))
    *sources, dest = words
    for source in sources:
        if not _ADD_SOURCE.match(source) or escape in source:
            raise _refuse(
                instruction.line,
                _(
                    "ADD «%(source)s»: en Muelle ADD solo copia ficheros del contexto (sin URL, "
                    "sin variables). Para copiar ficheros usa COPY."
                )
                % {"source": source},
            )
    if "\n" in dest:
        raise _refuse(instruction.line, _("Destino de ADD no válido."))
    return " ".join(["ADD", *out_flags, json.dumps([*sources, dest])])


async def _image_token(
    token: str, line: int, stages: set[str], resolve: ImageResolver, what: str
) -> tuple[str, BaseImage | None]:
    if token.lower() in stages or token.isdigit():
        return token, None
    if token == "scratch":  # noqa: S105 (an image name, not a password)
        return token, None
    if "$" in token or not _IMAGE_TOKEN.match(token):
        raise _refuse(
            line,
            _("%(what)s «%(token)s»: escribe el nombre de la imagen tal cual (sin variables).")
            % {"what": what, "token": token},
        )
    base = await resolve(token)
    if base is None:
        raise _refuse(
            line,
            _(
                "la imagen «%(token)s» no está en Muelle y aquí no se descarga nada. Usa una "
                "imagen del curso (mira «docker images») o una que hayas construido tú."
            )
            % {"token": token},
        )
    return base.engine_ref, base


async def _check_triggers(base: BaseImage | None, line: int, escape: str) -> None:
    """A base image's ONBUILD triggers run in this build: the same rules apply to them."""
    for trigger in base.onbuild if base else []:
        _e, parsed = split_instructions(trigger)
        for inner in parsed:
            _check_onbuild_inner(inner, line, "\\")


def _check_onbuild_inner(inner: Instruction, line: int, escape: str) -> str:
    inner.line = line
    if inner.keyword in ("ONBUILD", "FROM", "MAINTAINER"):
        raise _refuse(line, _("ONBUILD no admite %(k)s.") % {"k": inner.keyword})
    if inner.keyword == "ADD":
        return _check_add(inner, escape)
    if inner.keyword == "COPY":
        flags, _rest = _flags(inner.rest)
        if any(name == "from" for name, _v in flags):
            raise _refuse(line, _("ONBUILD COPY --from no está permitido en Muelle."))
    return f"{inner.keyword} {inner.rest}"


_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.:@/+=-]{1,200}$")


def can_label_inline(labels: dict[str, str]) -> bool:
    return all(_LABEL_VALUE.match(k) and _LABEL_VALUE.match(v) for k, v in labels.items())


async def rewrite(
    text: str, resolve: ImageResolver, stage_labels: dict[str, str] | None = None
) -> str:
    """The checked Dockerfile to build, or a refusal saying which line and why.

    `stage_labels` end every stage as one LABEL instruction (one build step, where the
    builder's `labels` parameter costs a step per label); being last, they win over any LABEL
    the student wrote."""
    if len(text) > MAX_DOCKERFILE:
        raise bad_request(_("El Dockerfile es demasiado grande."))
    escape, instructions = split_instructions(text)
    out = [f"# escape={escape}"] if escape != "\\" else []
    stages: set[str] = set()
    stages_seen = 0
    label_line = "LABEL " + " ".join(f'"{k}"="{v}"' for k, v in (stage_labels or {}).items())
    for instruction in instructions:
        keyword, rest, line = instruction.keyword, instruction.rest, instruction.line
        if keyword == "FROM":
            if stage_labels and stages_seen:
                out.append(label_line)
            stages_seen += 1
            flags, rest = _flags(rest)
            words = rest.split()
            emitted_flags = []
            for name, value in flags:
                if name != "platform" or not _PLATFORM.match(value):
                    raise _refuse(line, _("FROM solo admite la opción --platform."))
                emitted_flags.append(f"--platform={value}")
            if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
                raise _refuse(line, _("FROM debe ser «FROM imagen» o «FROM imagen AS nombre»."))
            ref, base = await _image_token(words[0], line, stages, resolve, "FROM")
            await _check_triggers(base, line, escape)
            emitted = ["FROM", *emitted_flags, ref]
            if len(words) == 3:
                if not _STAGE_NAME.match(words[2]):
                    raise _refuse(line, _("Nombre de etapa no válido: «%(n)s».") % {"n": words[2]})
                stages.add(words[2].lower())
                emitted += ["AS", words[2]]
            out.append(" ".join(emitted))
        elif keyword == "COPY":
            flags, rest = _flags(rest)
            emitted = ["COPY"]
            for name, value in flags:
                if name == "from":
                    ref, base = await _image_token(value, line, stages, resolve, "COPY --from")
                    await _check_triggers(base, line, escape)
                    emitted.append(f"--from={ref}")
                elif name == "chown" and _CHOWN.match(value):
                    emitted.append(f"--chown={value}")
                else:
                    raise _refuse(line, _("COPY solo admite --from y --chown."))
            out.append(" ".join([*emitted, rest]))
        elif keyword == "ADD":
            out.append(_check_add(instruction, escape))
        elif keyword == "ONBUILD":
            _e, inner = split_instructions(rest)
            if len(inner) != 1:
                raise _refuse(line, _("ONBUILD necesita una instrucción."))
            out.append("ONBUILD " + _check_onbuild_inner(inner[0], line, escape))
        else:
            out.append(f"{keyword} {rest}".rstrip())
    if stage_labels and stages_seen:
        out.append(label_line)
    for emitted_line in out:
        if emitted_line.rstrip().endswith(escape) and not emitted_line.startswith("# escape"):
            raise bad_request(
                _("El Dockerfile termina una instrucción con «%(e)s».") % {"e": escape}
            )
    return "\n".join(out) + "\n"
