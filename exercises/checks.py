"""What each kind of check runs in the student's sandbox, and how its result is judged.

Trust boundary: the only shell code ever run is the instructor's, from the lesson file (run as
`/bin/sh -c <command>`). What the student types is compared here, in Python, and never reaches a
command line; file paths go to the sandbox as separate argv items. Execution (one exec per click,
with time limits and output caps) is exercises.runner's job. The Docker-state kinds are judged by
exercises.docker_checks from GET requests on the student's own gateway, at the same time.
"""

from __future__ import annotations

import asyncio
import posixpath
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

from django.conf import settings
from django.utils.translation import gettext as _

from exercises import docker_checks
from exercises.docker_spec import DOCKER_KINDS, DockerCheck, HttpCheck
from exercises.runner import Step, StepResult, run_steps, student_processes
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
from sandbox.student_docker import DockerStateUnavailable, StudentDocker, for_owner

SEEN_MAX = 300


@dataclass(frozen=True)
class Outcome:
    check: Check
    passed: bool
    detail: str = ""  # why it failed, in Spanish; empty when it passed
    seen: str = ""  # what a sandbox step printed (for instructors: verify_solutions shows it)

    @property
    def message(self) -> str:
        return self.check.ok if self.passed else self.check.error


def normalise(text: str) -> str:
    """Answers compare without regard to case, Unicode form or runs of whitespace."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def sandbox_path(path: str) -> str:
    """An absolute path inside the sandbox: `~` is the student's home, relative paths start
    there too. Always absolute, so it can never be mistaken for a command option."""
    home = settings.SANDBOX_WORKDIR
    if path == "~" or path.startswith("~/"):
        path = home + path[1:]
    return posixpath.normpath(posixpath.join(home, path))


def step_for(check: Check, answer: str) -> Step | None:
    """What `check` needs run in the sandbox; None when it is judged in Python alone."""
    if isinstance(check, CommandCheck):
        return Step("sh", check.command)
    if isinstance(check, FileCheck):
        path = sandbox_path(check.path)
        if check.contains is None and check.matches is None:
            return Step("exists", path)
        return Step("read", path)
    if isinstance(check, ProcessCheck):
        return Step("ps")
    if isinstance(check, HttpCheck):
        return Step("http", f"{check.port} {check.path}")
    if isinstance(check, DOCKER_KINDS) or check.docker is not None:
        return None  # judged from the student's gateway, not in the sandbox
    if check.command is not None and normalise(answer):
        return Step("sh", check.command)  # the value to compare with, e.g. `uname -r`
    return None


async def run_checks(
    exercise: Exercise, sandbox: engine.Sandbox, answer: str = ""
) -> list[Outcome]:
    """One outcome per check, in order. Engine errors (EngineUnavailable, SandboxGone, ...)
    propagate."""
    answer = answer[:ANSWER_MAX]
    steps = [step_for(check, answer) for check in exercise.checks]
    docker = [check for check in exercise.checks if from_gateway(check)]
    step_results, verdicts = await asyncio.gather(
        run_steps(sandbox, [step for step in steps if step is not None]),
        judge_docker(docker, sandbox.owner, answer),
    )
    results, by_check = iter(step_results), dict(zip(docker, verdicts, strict=True))
    outcomes = []
    for check, step in zip(exercise.checks, steps, strict=True):
        if from_gateway(check):
            outcomes.append(by_check[check])
        else:
            outcomes.append(judge(check, next(results) if step is not None else None, answer))
    return outcomes


def from_gateway(check: Check) -> TypeGuard[DockerCheck | AnswerCheck]:
    """Judged from what the student's own gateway shows, not by running anything in the
    sandbox: the Docker-state kinds, and a `respuesta` whose expected value is a Docker field."""
    return isinstance(check, DOCKER_KINDS) or (
        isinstance(check, AnswerCheck) and check.docker is not None
    )


async def judge_docker(
    checks: Sequence[DockerCheck | AnswerCheck], owner: str, answer: str = ""
) -> list[Outcome]:
    """The Docker-state checks, from what the student's own gateway shows (GETs only)."""
    if not checks:
        return []
    try:
        view = await for_owner(owner)
    except DockerStateUnavailable:
        return [Outcome(check, False, _unavailable()) for check in checks]
    outcomes = []
    for check in checks:
        try:
            if isinstance(check, AnswerCheck):
                outcomes.append(await _docker_answer(check, view, answer))
                continue
            passed, detail = await docker_checks.judge(check, view, owner)
        except DockerStateUnavailable:
            passed, detail = False, _unavailable()
        outcomes.append(Outcome(check, passed, detail))
    return outcomes


async def _docker_answer(check: AnswerCheck, view: StudentDocker, answer: str) -> Outcome:
    """A typed answer compared with a field of the student's container (no answer: nothing is
    asked)."""
    assert check.docker is not None
    if not normalise(answer):
        return Outcome(check, False, _("No has escrito ninguna respuesta."))
    expected, why = await docker_checks.answer_value(check.docker, view)
    if expected is None:
        return Outcome(
            check,
            False,
            _("No se pudo obtener el valor con el que comparar: %(why)s") % {"why": why},
        )
    matched = normalise(expected) == normalise(answer)
    return Outcome(check, matched, "" if matched else _("Tu respuesta no es la esperada."))


def _unavailable() -> str:
    return _("No se pudo consultar el estado de Docker de tu entorno; vuelve a intentarlo.")


def judge(check: Check, result: StepResult | None, answer: str = "") -> Outcome:
    outcome = _judge(check, result, answer)
    if outcome.passed or result is None or isinstance(check, ProcessCheck):
        return outcome
    seen = _text(result).strip()
    if len(seen) > SEEN_MAX:
        seen = "…" + seen[-SEEN_MAX:]
    return Outcome(outcome.check, False, outcome.detail, seen)


def _judge(check: Check, result: StepResult | None, answer: str) -> Outcome:
    if isinstance(check, AnswerCheck):
        return _answer(check, result, answer)
    assert result is not None
    if result.timed_out:
        return Outcome(
            check,
            False,
            _("La comprobación tardó más de %(seconds)g segundos y se detuvo.")
            % {"seconds": settings.SANDBOX_RUN_TIMEOUT},
        )
    if isinstance(check, CommandCheck):
        return _command(check, result)
    if isinstance(check, FileCheck):
        return _file(check, result)
    if isinstance(check, HttpCheck):
        return _http(check, result)
    assert isinstance(check, ProcessCheck)
    return _process(check, result)


def _text(result: StepResult) -> str:
    return result.output.decode("utf-8", "replace")


def _command(check: CommandCheck, result: StepResult) -> Outcome:
    if result.truncated:  # and then stopped by SIGPIPE: its exit code says nothing
        return Outcome(check, False, _("La salida del comando de comprobación es demasiado larga."))
    reasons = []
    if check.exit_code is not None and result.exit_code != check.exit_code:
        reasons.append(
            _("El comando de comprobación terminó con el código %(got)s; se esperaba %(want)d.")
            % {"got": result.exit_code, "want": check.exit_code}
        )
    if check.output is not None and not check.output.search(_text(result)):
        # What it wrote, or its end: lessons say «debajo ves qué respondió MariaDB», and the
        # student saw only that it was not what was expected.
        written = " ".join(_text(result).split())
        reasons.append(
            _("La salida del comando de comprobación no es la esperada; escribió: %(out)s.")
            % {"out": docker_checks.shown(written[-300:], 300) if written else _("nada")}
        )
    return Outcome(check, not reasons, " ".join(reasons))


def _file(check: FileCheck, result: StepResult) -> Outcome:
    path = sandbox_path(check.path)
    if check.contains is None and check.matches is None:
        exists = result.exit_code == 0
        if exists == check.exists:
            return Outcome(check, True)
        if check.exists:
            return Outcome(check, False, _("No existe %(path)s.") % {"path": path})
        return Outcome(check, False, _("%(path)s todavía existe.") % {"path": path})
    # Cut at the output cap, cat was stopped: what was read is still the file's beginning.
    if result.exit_code != 0 and not result.truncated:
        return Outcome(check, False, _("No existe %(path)s o no se puede leer.") % {"path": path})
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


def _process(check: ProcessCheck, result: StepResult) -> Outcome:
    for process in student_processes(result):
        if check.name.search(process.name) or check.name.search(process.cmdline):
            return Outcome(check, True)
    return Outcome(check, False, _("Ningún proceso de tu contenedor coincide."))


def _answer(check: AnswerCheck, result: StepResult | None, answer: str) -> Outcome:
    given = normalise(answer)
    if not given:
        return Outcome(check, False, _("No has escrito ninguna respuesta."))
    if check.pattern is not None:
        matched = check.pattern.fullmatch(" ".join(answer.split())) is not None
        return Outcome(check, matched, "" if matched else _("Tu respuesta no es la esperada."))
    expected = check.expected
    if check.command is not None:
        if result is None or result.timed_out or result.exit_code != 0:
            return Outcome(
                check,
                False,
                _("No se pudo obtener en tu contenedor el valor con el que comparar."),
            )
        expected = _text(result)
    matched = normalise(expected or "") == given
    return Outcome(check, matched, "" if matched else _("Tu respuesta no es la esperada."))


def _http(check: HttpCheck, result: StepResult) -> Outcome:
    raw = result.output
    head, separator, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split()
    if (
        not separator
        or len(parts) < 2
        or not parts[0].startswith("HTTP/")
        # Three ASCII digits: str.isdigit() is also true of «²» (latin-1 from the student's
        # server), and int() refuses more than 4,300 digits; either was an error that hid the
        # click's other checks.
        or not (len(parts[1]) == 3 and parts[1].isascii() and parts[1].isdigit())
    ):
        if not raw:
            return Outcome(
                check,
                False,
                _(
                    "Nada responde en el puerto %(port)d (probamos con http://localhost:%(port)d%(path)s)."
                )
                % {"port": check.port, "path": check.path},
            )
        return Outcome(
            check,
            False,
            _("Lo que responde en el puerto %(port)d no habla HTTP.") % {"port": check.port},
        )
    status = int(parts[1])
    text = body.decode("utf-8", "replace")
    if status != check.status:
        return Outcome(
            check,
            False,
            _(
                "http://localhost:%(port)d%(path)s responde con el código %(got)d; se "
                "esperaba %(want)d."
            )
            % {"port": check.port, "path": check.path, "got": status, "want": check.status},
        )
    if check.contains is not None and check.contains not in text:
        start = docker_checks.shown(text, 80)
        detail = _(
            "http://localhost:%(port)d%(path)s responde, pero la página no contiene %(want)s. "
            "Empieza así: %(start)s"
        ) % {
            "port": check.port,
            "path": check.path,
            "want": docker_checks.shown(check.contains),
            "start": start,
        }
        if result.truncated:
            detail += " " + _("(Solo se leyó el principio: la respuesta es muy grande.)")
        return Outcome(check, False, detail)
    if check.matches is not None and check.matches.search(text) is None:
        detail = _(
            "http://localhost:%(port)d%(path)s responde, pero la página no es como se espera. "
            "Empieza así: %(start)s"
        ) % {"port": check.port, "path": check.path, "start": docker_checks.shown(text, 80)}
        return Outcome(check, False, detail)
    return Outcome(check, True)
