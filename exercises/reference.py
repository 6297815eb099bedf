"""Runs a lesson's reference solutions in a fresh sandbox: every check must fail before the
solution and pass after it (verify_solutions; CI runs it for every lesson with exercises).

Exercises run in lesson order in one sandbox, as a student would do them, so an exercise may
build on what the previous one left behind.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _

from exercises.catalog import LessonExercises
from exercises.checks import Outcome, from_gateway, run_checks
from exercises.docker_checks import listed
from exercises.spec import AnswerFromCommand, Exercise
from sandbox import engine
from sandbox.student_docker import DockerStateUnavailable, snapshot
from sandbox.terminals import owner_key

DockerState = dict[str, list[str]] | None


@dataclass
class ExerciseReport:
    exercise: Exercise
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _output_tail(result: engine.RunResult) -> str:
    text = result.output.decode("utf-8", "replace").strip()
    return text[-300:] if text else _("(sin salida)")


# A reference solution is the instructor's own command, not a student's click: on a busy CI
# machine a `docker build` or `docker-compose up` can take longer than the few seconds a check
# may (SANDBOX_RUN_TIMEOUT), and a solution that is right must not fail for it.
SOLUTION_COMMAND_TIMEOUT = 120.0


def _solution_timeout() -> float:
    return max(settings.SANDBOX_RUN_TIMEOUT, SOLUTION_COMMAND_TIMEOUT)


async def _apply(sandbox: engine.Sandbox, exercise: Exercise, report: ExerciseReport) -> str | None:
    """Runs the solution commands; returns the reference answer (None if a command failed)."""
    for command in exercise.solution_commands:
        result = await engine.run(
            sandbox,
            ["/bin/sh", "-c", command],
            timeout=_solution_timeout(),
            max_output=settings.SANDBOX_RUN_OUTPUT_CAP,
        )
        if result.timed_out or result.exit_code != 0:
            report.problems.append(
                _("el comando de la solución %(cmd)r falló (%(why)s): %(out)s")
                % {
                    "cmd": command,
                    "why": _("tardó demasiado")
                    if result.timed_out
                    else _("código %(code)s") % {"code": result.exit_code},
                    "out": _output_tail(result),
                }
            )
            return None
    answer = exercise.solution_answer
    if isinstance(answer, AnswerFromCommand):
        result = await engine.run(
            sandbox,
            ["/bin/sh", "-c", answer.command],
            timeout=settings.SANDBOX_RUN_TIMEOUT,
            max_output=settings.SANDBOX_RUN_OUTPUT_CAP,
        )
        if result.timed_out or result.exit_code != 0:
            report.problems.append(
                _("el comando de «solucion_respuesta» %(cmd)r falló: %(out)s")
                % {"cmd": answer.command, "out": _output_tail(result)}
            )
            return None
        return result.output.decode("utf-8", "replace").strip()
    return answer or ""


async def _docker_state(owner: str) -> DockerState:
    """Everything the student has in Docker, as their gateway shows it (None without one)."""
    if not settings.DOCKER_GATEWAY_ENABLED:
        return None
    try:
        return await snapshot(owner)
    except DockerStateUnavailable:
        return None


def _changes(before: DockerState, after: DockerState) -> str:
    """What differs between two states, in Spanish ("" when nothing does)."""
    if before is None or after is None:
        return ""
    words = {
        "containers": _("contenedores"),
        "images": _("imágenes"),
        "volumes": _("volúmenes"),
        "networks": _("redes"),
    }
    parts = []
    for key, word in words.items():
        added = sorted(set(after[key]) - set(before[key]))
        gone = sorted(set(before[key]) - set(after[key]))
        if added:
            parts.append(
                _("%(what)s nuevos o cambiados: %(list)s") % {"what": word, "list": listed(added)}
            )
        if gone:
            parts.append(
                _("%(what)s que ya no están: %(list)s") % {"what": word, "list": listed(gone)}
            )
    return "; ".join(parts)


def _got(outcome: Outcome) -> str:
    """What a failing check found: its explanation and the output it got."""
    text = outcome.detail
    if outcome.seen:
        text += " " + _("Salida: %(seen)s") % {"seen": outcome.seen}
    return text.strip()


async def _checks_changing_nothing(
    sandbox: engine.Sandbox, exercise: Exercise, answer: str, report: ExerciseReport, when: str
) -> tuple[list[Outcome], DockerState]:
    """The checks' outcomes, and the student's Docker state they left (None without a gateway)."""
    before = await _docker_state(sandbox.owner)
    outcomes = await run_checks(exercise, sandbox, answer)
    after = await _docker_state(sandbox.owner)
    changed = _changes(before, after)
    if changed:
        report.problems.append(
            _(
                "las comprobaciones (%(when)s) cambiaron el estado de Docker del alumno: "
                "%(changed)s. Una comprobación solo mira"
            )
            % {"when": when, "changed": changed}
        )
    return outcomes, after


def _containers_seen(state: DockerState) -> str:
    """The student's containers as their gateway listed them, for a failing check's report: a
    check that finds nothing is told apart from one that finds the wrong thing."""
    if state is None:
        return ""
    names = listed(state["containers"]) if state["containers"] else _("ninguno")
    return _("contenedores del alumno en ese momento: %(list)s") % {"list": names}


async def verify_exercise(sandbox: engine.Sandbox, exercise: Exercise) -> ExerciseReport:
    report = ExerciseReport(exercise)
    if not exercise.has_reference:
        report.problems.append(
            _(
                "no tiene solución de referencia: añade «solucion_comandos» (y "
                "«solucion_respuesta» si pide una respuesta)"
            )
        )
        return report
    if exercise.needs_answer and exercise.solution_answer is None:
        report.problems.append(_("pide una respuesta, pero no tiene «solucion_respuesta»"))
        return report
    before, _state = await _checks_changing_nothing(
        sandbox, exercise, "", report, _("antes de la solución")
    )
    for outcome in before:
        if outcome.passed:
            report.problems.append(
                _(
                    "la comprobación %(n)d ya pasa antes de aplicar la solución: no comprueba nada "
                    "que haga el alumno"
                )
                % {"n": outcome.check.index + 1}
            )
    answer = await _apply(sandbox, exercise, report)
    if answer is None:
        return report
    after, state = await _checks_changing_nothing(
        sandbox, exercise, answer, report, _("después de la solución")
    )
    failing = [outcome for outcome in after if not outcome.passed]
    for outcome in failing:
        report.problems.append(
            _("la comprobación %(n)d falla después de aplicar la solución: %(msg)s %(got)s")
            % {"n": outcome.check.index + 1, "msg": outcome.message, "got": _got(outcome)}
        )
    looked_at_docker = any(from_gateway(outcome.check) for outcome in failing)
    if looked_at_docker and (seen := _containers_seen(state)):
        report.problems.append(seen)
    return report


async def verify_lesson(lesson: LessonExercises) -> list[ExerciseReport]:
    """Raises engine.EngineUnavailable / CapacityFull when no sandbox can be had."""
    owner = owner_key("verify_solutions:" + secrets.token_urlsafe(16))
    sandbox = await engine.acquire(owner)
    try:
        return [await verify_exercise(sandbox, exercise) for exercise in lesson.exercises]
    finally:
        # With its gateway ended, whatever the solutions made with `docker` goes too.
        await engine.remove_now(sandbox.container_id, end_gateway_of=owner)


async def verify_lessons(
    lessons: Sequence[LessonExercises], *, parallel: int = 1
) -> list[list[ExerciseReport] | Exception]:
    """Each lesson's reports (or the engine error that stopped it), in order, `parallel` lessons
    at a time, each in a sandbox of its own."""
    limit = asyncio.Semaphore(max(1, parallel))

    async def one(lesson: LessonExercises) -> list[ExerciseReport] | Exception:
        async with limit:
            try:
                return await verify_lesson(lesson)
            except (engine.EngineUnavailable, engine.CapacityFull) as exc:
                return exc

    try:
        return list(await asyncio.gather(*(one(lesson) for lesson in lessons)))
    finally:
        # acquire() started the reaper on this loop; the command's loop ends here.
        await engine.stop_background_tasks()
