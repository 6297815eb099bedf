"""Runs an exercise's checks inside the student's own sandbox.

Trust boundary: the only shell code ever run is the instructor's, from the lesson file
(`["/bin/sh", "-c", <command>]`). What the student types is compared here, in Python, and never
reaches a command line; file paths go to the sandbox as separate argv items. Every run goes
through sandbox.engine with a timeout and an output cap, so a check cannot hang or flood.
"""

from __future__ import annotations

import posixpath
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from exercises.spec import (
    ANSWER_MAX,
    AnswerCheck,
    Check,
    CommandCheck,
    Exercise,
    FileCheck,
    ProcessCheck,
)
from sandbox import engine

# Lists the sandbox's processes as "\x1e<pid>\x1f<comm>\n<cmdline with NULs>" records using only
# the shell and cat, so it works on any image. The listing shell itself ($$) is left out.
PROCESS_LISTING = (
    'for d in /proc/[0-9]*; do p="${d#/proc/}"; [ "$p" = "$$" ] && continue; '
    "printf '\\036%s\\037' \"$p\"; cat \"$d/comm\" \"$d/cmdline\" 2>/dev/null; done"
)


@dataclass(frozen=True)
class Outcome:
    check: Check
    passed: bool
    detail: str = ""  # why it failed, in Spanish; empty when it passed

    @property
    def message(self) -> str:
        return self.check.ok if self.passed else self.check.error


def normalise(text: str) -> str:
    """Answers compare without regard to case, Unicode form or runs of whitespace."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


async def run_checks(exercise: Exercise, sandbox: engine.Sandbox, answer: str = "") -> list[Outcome]:
    """One outcome per check, in order. Run one after another so a check never sees another
    check's own processes. Engine errors (EngineUnavailable, CapacityFull) propagate."""
    answer = answer[:ANSWER_MAX]
    return [await run_check(check, sandbox, answer) for check in exercise.checks]


async def run_check(check: Check, sandbox: engine.Sandbox, answer: str = "") -> Outcome:
    if isinstance(check, CommandCheck):
        return await _command(check, sandbox)
    if isinstance(check, FileCheck):
        return await _file(check, sandbox)
    if isinstance(check, ProcessCheck):
        return await _process(check, sandbox)
    return await _answer(check, sandbox, answer)


async def _run(sandbox: engine.Sandbox, argv: list[str]) -> engine.RunResult:
    return await engine.run(
        sandbox,
        argv,
        timeout=settings.SANDBOX_RUN_TIMEOUT,
        max_output=settings.SANDBOX_RUN_OUTPUT_CAP,
    )


def _text(result: engine.RunResult) -> str:
    return result.output.decode("utf-8", "replace")


def _too_slow() -> str:
    return _("La comprobación tardó más de %(seconds)g segundos y se detuvo.") % {
        "seconds": settings.SANDBOX_RUN_TIMEOUT
    }


async def _command(check: CommandCheck, sandbox: engine.Sandbox) -> Outcome:
    result = await _run(sandbox, ["/bin/sh", "-c", check.command])
    if result.timed_out:
        return Outcome(check, False, _too_slow())
    reasons = []
    if check.exit_code is not None and result.exit_code != check.exit_code:
        reasons.append(
            _("El comando de comprobación terminó con el código %(got)s; se esperaba %(want)d.")
            % {"got": result.exit_code, "want": check.exit_code}
        )
    if check.output is not None and not check.output.search(_text(result)):
        reasons.append(_("La salida del comando de comprobación no es la esperada."))
    return Outcome(check, not reasons, " ".join(reasons))


def sandbox_path(path: str) -> str:
    """An absolute path inside the sandbox: `~` is the student's home, relative paths start
    there too. Always absolute, so it can never be mistaken for a command option."""
    home = settings.SANDBOX_WORKDIR
    if path == "~" or path.startswith("~/"):
        path = home + path[1:]
    return posixpath.normpath(posixpath.join(home, path))


async def _file(check: FileCheck, sandbox: engine.Sandbox) -> Outcome:
    path = sandbox_path(check.path)
    if check.contains is None and check.matches is None:
        result = await _run(sandbox, ["test", "-e", path])
        if result.timed_out:
            return Outcome(check, False, _too_slow())
        exists = result.exit_code == 0
        if exists == check.exists:
            return Outcome(check, True)
        if check.exists:
            return Outcome(check, False, _("No existe %(path)s.") % {"path": path})
        return Outcome(check, False, _("%(path)s todavía existe.") % {"path": path})
    result = await _run(sandbox, ["cat", "--", path])
    if result.timed_out:
        return Outcome(check, False, _too_slow())
    if result.exit_code != 0:
        return Outcome(
            check, False, _("No existe %(path)s o no se puede leer.") % {"path": path}
        )
    content = _text(result)
    found = (check.contains is None or check.contains in content) and (
        check.matches is None or check.matches.search(content) is not None
    )
    if found:
        return Outcome(check, True)
    detail = _("%(path)s existe, pero no contiene lo esperado.") % {"path": path}
    if result.truncated:
        detail += " " + _("(Solo se leyó el principio: el archivo es muy grande.)")
    return Outcome(check, False, detail)


def parse_processes(output: bytes) -> list[tuple[int, str, str]]:
    """(pid, name, command line) from PROCESS_LISTING's output."""
    processes = []
    for record in output.split(b"\x1e")[1:]:
        pid, _sep, rest = record.partition(b"\x1f")
        name, _nl, cmdline = rest.partition(b"\n")
        if not pid.isdigit():
            continue
        processes.append(
            (
                int(pid),
                name.decode("utf-8", "replace"),
                cmdline.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace"),
            )
        )
    return processes


async def _process(check: ProcessCheck, sandbox: engine.Sandbox) -> Outcome:
    result = await _run(sandbox, ["/bin/sh", "-c", PROCESS_LISTING])
    if result.timed_out:
        return Outcome(check, False, _too_slow())
    for _pid, name, cmdline in parse_processes(result.output):
        if check.name.search(name) or check.name.search(cmdline):
            return Outcome(check, True)
    return Outcome(check, False, _("Ningún proceso de tu contenedor coincide."))


async def _answer(check: AnswerCheck, sandbox: engine.Sandbox, answer: str) -> Outcome:
    given = normalise(answer)
    if not given:
        return Outcome(check, False, _("No has escrito ninguna respuesta."))
    if check.pattern is not None:
        matched = check.pattern.fullmatch(" ".join(answer.split())) is not None
        return Outcome(check, matched, "" if matched else _("Tu respuesta no es la esperada."))
    expected = check.expected
    if check.command is not None:
        # The value to compare with comes from the student's own sandbox (e.g. `uname -r`).
        result = await _run(sandbox, ["/bin/sh", "-c", check.command])
        if result.timed_out:
            return Outcome(check, False, _too_slow())
        if result.exit_code != 0:
            return Outcome(
                check,
                False,
                _("No se pudo obtener en tu contenedor el valor con el que comparar."),
            )
        expected = _text(result)
    matched = normalise(expected or "") == given
    return Outcome(check, matched, "" if matched else _("Tu respuesta no es la esperada."))
