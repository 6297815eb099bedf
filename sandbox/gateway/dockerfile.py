"""Checking and re-emitting a student's Dockerfile before the classic builder sees it.

The classic builder runs outside the build's network sandbox for three things: `FROM` (and
`COPY --from`) pull an image that is not local — from any registry, even 127.0.0.1:PORT — and
`ADD <url>` downloads a URL, both from the engine's own network. A base image's `ONBUILD`
triggers run the same way. So every FROM/COPY --from must name an image the student can see
(and is rewritten to its engine name), every ADD source must be a plain context path, and
ONBUILD triggers (the Dockerfile's and the base image's) obey the same rules.

The file is read with a port of the engine's own parser (`dockerfile_parse`), and what the
builder gets is re-emitted from that parse: one instruction per line, no continuations or
comments, flags rewritten from their checked values. Before it leaves, the re-emitted text is
parsed again and must give back exactly the instructions that were checked; anything the gateway
cannot read the engine's way is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from . import dockerfile_parse, health_interval
from .dockerfile_parse import (
    Node,
    continues,
    is_keyword,
    json_array,
    parse,
    prepare,
    split_command,
    whitespace_words,
)
from .errors import GatewayError, bad_request, refused

_IMAGE_TOKEN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._/:@-]{0,254}\Z")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}\Z")  # the engine's, on the lower-cased name
_STAGE_INDEX = re.compile(r"^[0-9]{1,9}\Z")
_ADD_SOURCE = re.compile(r"^[A-Za-z0-9_.,/*?\[\]@+=~ -]{1,4096}\Z")
_CHOWN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
_DURATION = re.compile(r"^[0-9][0-9a-z.]{0,31}\Z")
_RETRIES = re.compile(r"^[0-9]{1,9}\Z")
_HEALTHCHECK_FLAGS = {
    "interval": _DURATION,
    "timeout": _DURATION,
    "start-period": _DURATION,
    "retries": _RETRIES,
}
MAX_DOCKERFILE = 1024 * 1024


@dataclass(frozen=True)
class BaseImage:
    engine_ref: str
    onbuild: list[str]


# Resolves what the student wrote after FROM to an image they can see (None when none).
ImageResolver = Callable[[str], Awaitable[BaseImage | None]]


@dataclass(frozen=True)
class _Out:
    """One re-emitted instruction: what the engine must parse back from its line."""

    keyword: str
    flags: tuple[str, ...]
    args: str
    raw: str | None = None  # the exact line to emit, when it is not rebuilt from the parts

    def line(self) -> str:
        if self.raw is not None:
            return self.raw
        parts = [self.keyword.upper(), *self.flags]
        if self.args:
            if self.args.startswith("--"):
                parts.append("--")  # the engine would read the rest as flags otherwise
            parts.append(self.args)
        return " ".join(parts)


def _refuse(line: int, message: str) -> GatewayError:
    return refused(
        _("Dockerfile, línea %(line)d: %(message)s") % {"line": line, "message": message}
    )


def _flag_values(node: Node, allowed: Iterable[str]) -> dict[str, str]:
    """Builder flags as the engine's BFlags reads them: `--name=value`, names case-sensitive,
    each at most once; anything else is refused."""
    names = set(allowed)
    values: dict[str, str] = {}
    for word in node.flags:
        name, eq, value = word[2:].partition("=")
        if not word.startswith("--") or name not in names or not eq or name in values:
            if names:
                listed = ", ".join(f"--{n}" for n in sorted(names))
                message = _("%(k)s solo admite las opciones %(f)s.") % {
                    "k": node.keyword.upper(),
                    "f": listed,
                }
            else:
                message = _("%(k)s no admite opciones en Muelle.") % {"k": node.keyword.upper()}
            raise _refuse(node.line, message)
        values[name] = value
    return values


def _check_add(node: Node, escape: str) -> _Out:
    flags = _flag_values(node, ["chown"])
    out_flags: tuple[str, ...] = ()
    if "chown" in flags:
        if not _CHOWN.match(flags["chown"]):
            raise _refuse(node.line, _("--chown no válido en ADD."))
        out_flags = (f"--chown={flags['chown']}",)
    words = json_array(node.args)
    if words is None:
        words = whitespace_words(node.args)
    if len(words) < 2:
        raise _refuse(node.line, _("ADD necesita un origen y un destino."))
    *sources, dest = words
    for source in sources:
        if not _ADD_SOURCE.match(source) or escape in source:
            raise _refuse(
                node.line,
                _(
                    "ADD «%(source)s»: en Muelle ADD solo copia ficheros del contexto (sin URL, "
                    "sin variables). Para copiar ficheros usa COPY."
                )
                % {"source": source[:200]},
            )
    if dest == "":
        raise _refuse(node.line, _("Destino de ADD no válido."))
    return _Out("add", out_flags, json.dumps([*sources, dest]))


async def _image_token(token: str, line: int, resolve: ImageResolver, what: str) -> BaseImage:
    if "$" in token or not _IMAGE_TOKEN.match(token):
        raise _refuse(
            line,
            _("%(what)s «%(token)s»: escribe el nombre de la imagen tal cual (sin variables).")
            % {"what": what, "token": token[:200]},
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
    return base


def _check_triggers(base: BaseImage, line: int) -> None:
    """A base image's ONBUILD triggers run in this build, each parsed on its own with the
    default escape (`dispatchTriggeredOnBuild`): the same rules apply to them."""
    for trigger in base.onbuild:
        try:
            nodes = parse(prepare(trigger.encode())).nodes
        except GatewayError:
            nodes = []
        if len(nodes) != 1:
            raise _refuse(line, _("la imagen base tiene un ONBUILD que Muelle no puede leer."))
        nodes[0].line = line
        _check_trigger(nodes[0], "\\")


def _check_trigger(node: Node, escape: str) -> _Out:
    """An instruction that runs later, in another build: no image references at all."""
    if not is_keyword(node.keyword):
        raise _refuse(node.line, _("instrucción desconocida: «%(k)s».") % {"k": node.keyword})
    if node.keyword in ("onbuild", "from", "maintainer"):
        raise _refuse(node.line, _("ONBUILD no admite %(k)s.") % {"k": node.keyword.upper()})
    if node.keyword == "add":
        return _check_add(node, escape)
    if node.keyword == "copy":
        flags = _flag_values(node, ["chown", "from"])
        if "from" in flags:
            raise _refuse(node.line, _("ONBUILD COPY --from no está permitido en Muelle."))
        return _copy_out(node, flags, None)
    return _plain(node)


def _copy_out(node: Node, flags: dict[str, str], source: str | None) -> _Out:
    out: list[str] = []
    if source is not None:
        out.append(f"--from={source}")
    if "chown" in flags:
        if not _CHOWN.match(flags["chown"]):
            raise _refuse(node.line, _("--chown no válido en COPY."))
        out.append(f"--chown={flags['chown']}")
    return _Out("copy", tuple(out), node.args)


def _plain(node: Node) -> _Out:
    if node.keyword == "healthcheck":
        flags = _flag_values(node, _HEALTHCHECK_FLAGS)
        for name, value in flags.items():
            if not _HEALTHCHECK_FLAGS[name].match(value):
                raise _refuse(node.line, _("Valor no válido para --%(n)s.") % {"n": name})
        interval = flags.get("interval")
        if interval is not None:
            found = health_interval.duration_ns(interval)
            if found is None:
                raise _refuse(node.line, _("Valor no válido para --%(n)s.") % {"n": "interval"})
            if health_interval.too_short(found):
                raise _refuse(node.line, health_interval.message())
        return _Out("healthcheck", tuple(f"--{n}={v}" for n, v in flags.items()), node.args)
    _flag_values(node, [])
    if node.keyword == "label":
        _check_label(node)
    return _Out(node.keyword, (), node.args)


def _check_label(node: Node) -> None:
    """Muelle's own labels (`muelle.*`) find sandboxes, their gateway folders and published
    ports; an image carrying them hands them to every container made from it. The builder
    expands variables in LABEL keys (`ENV P=muelle` then `LABEL ${P}.role=…`), so a variable
    is refused too, as `docker commit --change LABEL` does."""
    if "$" in node.args:
        raise _refuse(node.line, _("LABEL no admite variables ($) en Muelle."))
    if dockerfile_parse.sets_reserved_label(node.args):
        raise _refuse(node.line, _("las etiquetas «muelle.*» están reservadas para Muelle."))


_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.:@/+=-]{1,200}\Z")


def can_label_inline(labels: dict[str, str]) -> bool:
    return all(_LABEL_VALUE.match(k) and _LABEL_VALUE.match(v) for k, v in labels.items())


class _Stages:
    """Stage names the engine can find: only those of *finished* stages (`stagesBuildResults`
    is filled when a stage ends), matched in lower case; any other name is an image to pull."""

    def __init__(self) -> None:
        self.finished: set[str] = set()
        self.current: str | None = None
        self.started = 0

    def finish_current(self) -> None:
        """A FROM ends the stage before it (committed before the new base is looked up)."""
        if self.current:
            self.finished.add(self.current)
        self.current = None

    def begin(self, name: str | None) -> None:
        self.current = name
        self.started += 1

    def knows(self, token: str) -> bool:
        return token.lower() in self.finished


async def rewrite(
    text: bytes | str,
    resolve: ImageResolver,
    stage_labels: dict[str, str] | None = None,
    platforms: frozenset[str] = frozenset(),
) -> str:
    """The checked Dockerfile to build, or a refusal saying which line and why.

    `stage_labels` start and end every stage as one LABEL instruction (one build step, where
    the builder's `labels` parameter costs a step per label): first, so that every layer of
    the build is the student's; last, to win over any LABEL the student wrote. `platforms` are
    the `--platform` values that need no pull (the engine's own)."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_DOCKERFILE:
        raise bad_request(_("El Dockerfile es demasiado grande."))
    parsed = parse(prepare(raw))
    if parsed.syntax is not None:
        raise refused(
            _(
                "La directiva «# syntax=» pide descargar otro analizador de Dockerfile, y en "
                "Muelle no se descarga nada: quita esa línea."
            )
        )
    if not parsed.nodes:
        raise bad_request(_("El Dockerfile no tiene instrucciones."))
    escape = parsed.escape
    outs: list[_Out] = []
    stages = _Stages()
    label = (
        _Out("label", (), " ".join(f'"{k}"="{v}"' for k, v in stage_labels.items()))
        if stage_labels
        else None
    )
    for node in parsed.nodes:
        if not is_keyword(node.keyword):
            raise _refuse(node.line, _("instrucción desconocida: «%(k)s».") % {"k": node.keyword})
        if node.keyword == "from":
            if label and stages.started:
                outs.append(label)
            outs.append(await _check_from(node, stages, resolve, platforms))
            if label:
                # First as well: every layer the build makes is then this student's. The
                # builder keeps the image of each step that succeeded, also when a later one
                # fails, and those were no one's (not counted, not listed, never removed); and
                # its cache was shared, so one student's `docker rmi` deleted a layer another
                # student's build had just found in it ("unable to find image").
                outs.append(label)
        elif node.keyword == "copy":
            flags = _flag_values(node, ["chown", "from"])
            source = None
            if "from" in flags:
                source = flags["from"]
                if not (stages.knows(source) or _STAGE_INDEX.match(source)):
                    base = await _image_token(source, node.line, resolve, "COPY --from")
                    source = base.engine_ref  # its ONBUILD triggers do not run here
            outs.append(_copy_out(node, flags, source))
        elif node.keyword == "add":
            outs.append(_check_add(node, escape))
        elif node.keyword == "onbuild":
            outs.append(_check_onbuild(node, escape))
        else:
            outs.append(_plain(node))
    if label and stages.started:
        outs.append(label)
    return _emit(outs, escape)


async def _check_from(
    node: Node, stages: _Stages, resolve: ImageResolver, platforms: frozenset[str]
) -> _Out:
    stages.finish_current()
    flags = _flag_values(node, ["platform"])
    out_flags: tuple[str, ...] = ()
    if "platform" in flags:
        if flags["platform"] not in platforms:
            raise _refuse(
                node.line,
                _(
                    "--platform %(p)s necesitaría descargar la imagen de otra plataforma, y en "
                    "Muelle no se descarga nada."
                )
                % {"p": flags["platform"][:64]},
            )
        out_flags = (f"--platform={flags['platform']}",)
    words = whitespace_words(node.args)
    if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
        raise _refuse(node.line, _("FROM debe ser «FROM imagen» o «FROM imagen AS nombre»."))
    name = None
    if len(words) == 3:
        if not words[2].isascii() or not _STAGE_NAME.match(words[2].lower()):
            raise _refuse(node.line, _("Nombre de etapa no válido: «%(n)s».") % {"n": words[2]})
        name = words[2].lower()
    token = words[0]
    if stages.knows(token) or token == "scratch":  # noqa: S105 (an image name)
        ref = token
    else:
        base = await _image_token(token, node.line, resolve, "FROM")
        _check_triggers(base, node.line)
        ref = base.engine_ref
    stages.begin(name)
    args = f"{ref} AS {words[2]}" if name else ref
    return _Out("from", out_flags, args)


# How the engine stores a trigger: the instruction's source minus this prefix (`parseOnBuild`);
# Go's `\s` has no "\v", so "ONBUILD<VT>RUN x" is stored as "<VT>RUN x".
_ONBUILD_PREFIX = re.compile(r"^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", re.IGNORECASE | re.ASCII)


def _check_onbuild(node: Node, escape: str) -> _Out:
    _flag_values(node, [])
    if not node.args:
        raise _refuse(node.line, _("ONBUILD necesita una instrucción."))
    _check_trigger(split_command(node.args, node.line), escape)  # as this build reads it
    # The engine keeps the trigger as text and parses it again, alone and with the default
    # escape, in the build that uses this image: that reading is the one that runs, so it is
    # checked too, and the text is kept as the engine would keep it.
    expression = _ONBUILD_PREFIX.sub("", node.original, count=1)
    try:
        later = parse(prepare(expression.encode())).nodes
    except GatewayError:
        later = []
    if len(later) != 1:
        raise _refuse(node.line, _("Muelle no puede leer este ONBUILD como lo leerá Docker."))
    later[0].line = node.line
    _check_trigger(later[0], "\\")
    return _Out("onbuild", (), _trim_go(expression), raw=f"ONBUILD {expression}")


def _trim_go(text: str) -> str:
    return text.strip("\t\n\v\f\r ")


def _emit(outs: list[_Out], escape: str) -> str:
    lines = [f"# escape={escape}"] if escape != "\\" else []
    for out in outs:
        line = out.line()
        if "\n" in line or continues(line, escape):
            raise bad_request(
                _("El Dockerfile termina una instrucción con «%(e)s».") % {"e": escape}
            )
        lines.append(line)
    text = "\n".join(lines) + "\n"
    # The proof: the engine's parser reads back exactly the instructions that were checked.
    again = parse(prepare(text.encode()))
    if again.escape != escape or [(n.keyword, tuple(n.flags), n.args) for n in again.nodes] != [
        (o.keyword, o.flags, o.args) for o in outs
    ]:
        raise bad_request(_("Muelle no puede leer este Dockerfile como lo leerá Docker."))
    return text
