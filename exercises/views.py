"""Exercise endpoints: check (runs in the student's sandbox), reveal a solution, reset a lesson.

Every POST works both from htmx (the response is the exercise's card, swapped in place) and as a
plain form without JavaScript (the response is a page with the same card).

The check view is sync, like every page: its request runs Django's middleware chain in sync mode
in a thread of its own (tutorial.http_handler), and only the round trip to the sandbox (the
check agent, the student's gateway) goes to the event loop and back (async_to_sync). As an async
view a click made 19 round trips between the event loop and threads (Django's async middleware
chain, then the view's ORM work queued for the loop's default pool of cpu+4 threads); now 4. Each
request still has its own thread, so a class checking at once waits on the sandboxes, not on
each other (docs/reliability.md, "Checks of a class at once").
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from exercises import cards, catalog, check_slots, progress
from exercises.checks import Outcome, run_checks
from exercises.spec import ANSWER_MAX, Exercise
from sandbox import engine
from sandbox.client_limits import AddressFull
from sandbox.terminal_notices import address_full_message
from sandbox.terminals import get_registry, owner_key
from tutorial import session_rate
from tutorial.client_address import request_address

logger = logging.getLogger(__name__)


def _find(
    lesson_slug: str, exercise_id: str | None = None
) -> tuple[catalog.LessonExercises, Exercise | None]:
    lesson = catalog.for_lesson(lesson_slug)
    if lesson is None:
        raise Http404(_("Esa lección no existe."))
    if exercise_id is None:
        return lesson, None
    exercise = lesson.get(exercise_id)
    if exercise is None:
        raise Http404(_("Ese ejercicio no existe en esta lección."))
    return lesson, exercise


def _respond(request: HttpRequest, card: cards.Card) -> HttpResponse:
    if getattr(request, "htmx", False):
        return render(request, "exercises/card_response.html", {"card": card})
    return render(request, "exercises/exercise_page.html", {"card": card})


@require_GET
def exercise_page(request: HttpRequest, lesson_slug: str, exercise_id: str) -> HttpResponse:
    lesson, exercise = _find(lesson_slug, exercise_id)
    assert exercise is not None
    student = progress.student_for(request)
    return _respond(request, cards.card(lesson, exercise, student))


async def _run_in_sandbox(
    owner: str, address: str, exercise: Exercise, answer: str
) -> tuple[list[Outcome], str]:
    """(outcomes, "") or ([], a Spanish reason why the checks could not run)."""
    if not settings.SANDBOX_ENABLED:
        return [], _no_engine_message()
    try:
        return await _check_in_own_sandbox(owner, address, exercise, answer), ""
    except AddressFull:
        return [], address_full_message()
    except engine.EngineUnavailable:
        return [], _no_engine_message()
    except engine.SessionLimitReached as exc:
        return [], exc.message
    except engine.SandboxGone:
        return [], _(
            "Tu contenedor acaba de cerrarse. Vuelve a conectar la terminal (tendrás un entorno "
            "nuevo), repite los pasos del ejercicio y pulsa «Comprobar» otra vez."
        )
    except engine.CapacityFull:
        return [], _(
            "Hay muchas personas practicando ahora mismo y no queda sitio para tu contenedor. "
            "Vuelve a pulsar «Comprobar» dentro de un momento."
        )
    except Exception:
        logger.exception("checks of %s failed to run", exercise.id)
        return [], _(
            "Algo ha fallado al comprobar tu ejercicio. Vuelve a intentarlo en unos segundos."
        )


async def _check_in_own_sandbox(
    owner: str, address: str, exercise: Exercise, answer: str
) -> list[Outcome]:
    # The student's terminal normally holds the sandbox already: its lease, found without a
    # query. Otherwise one of the check's own, under the address's share of the sandboxes.
    async def check(sandbox: engine.Sandbox) -> list[Outcome]:
        return await run_checks(exercise, sandbox, answer)

    return await get_registry().in_sandbox(owner, address, check)


def _no_engine_message() -> str:
    return _(
        "Ahora mismo no podemos comprobar tu ejercicio: no responde ningún motor de Docker, así "
        "que tu contenedor no está disponible. Tu progreso no se ha perdido; vuelve a pulsar "
        "«Comprobar» dentro de un rato."
    )


def _new_session_refused(request: HttpRequest) -> HttpResponse | None:
    """A check or a reveal from a browser without a session makes one, with a progress row (and,
    for a check, a sandbox): the 429 of tutorial.session_rate comes before any of it. After the
    view, as the middleware refuses a page, was too late: an attack review spent an address's
    budget and still got 300 progress rows and a new sandbox per check, all answered 429."""
    if request.session.get(progress.SESSION_KEY) is None and request.session.session_key is None:
        wait = session_rate.take_for_view(request)  # loading the session dropped an unknown key
        if wait:
            return session_rate.refused(wait)
    return None


@require_POST
def check(request: HttpRequest, lesson_slug: str, exercise_id: str) -> HttpResponse:
    lesson, exercise = _find(lesson_slug, exercise_id)
    assert exercise is not None
    if (refusal := _new_session_refused(request)) is not None:
        return refusal
    student = progress.student_for(request, create=True)
    assert student is not None
    if request.session.session_key is None:
        request.session.save()  # the sandbox owner is derived from the session key
    session_key = request.session.session_key
    assert session_key is not None
    answer = request.POST.get("respuesta", "")[:ANSWER_MAX]
    blocked_by = None
    if exercise.depends_on is not None:  # no dependency, nothing to read
        completed = progress.completed_ids(student, lesson.slug)
        blocked_by = cards.blocking_exercise(lesson, exercise, completed)
    if blocked_by is not None:
        outcomes: list[Outcome] = []
        error = _("Antes tienes que completar el ejercicio «%(title)s».") % {
            "title": blocked_by.title
        }
    else:
        outcomes, error = _checked(
            owner_key(session_key), request_address(request), exercise, answer
        )
    if outcomes:
        failed = [outcome.check.index for outcome in outcomes if not outcome.passed]
        progress.record_check(student, lesson.slug, exercise.id, failed)
    card = cards.card(
        lesson, exercise, student, outcomes=outcomes, error=error, answer=answer, just_checked=True
    )
    return _respond(request, card)


def _checked(
    owner: str, address: str, exercise: Exercise, answer: str
) -> tuple[list[Outcome], str]:
    with check_slots.slot(owner) as taken:
        if not taken:
            return [], _(
                "Todavía estamos comprobando lo que enviaste antes. Espera a que termine y "
                "vuelve a pulsar «Comprobar»."
            )
        # On the server's event loop, where the sandbox's agent channel lives.
        return async_to_sync(_run_in_sandbox)(owner, address, exercise, answer)


@require_POST
def reveal_solution(request: HttpRequest, lesson_slug: str, exercise_id: str) -> HttpResponse:
    lesson, exercise = _find(lesson_slug, exercise_id)
    assert exercise is not None
    if not exercise.solution:
        raise Http404(_("Este ejercicio no tiene solución publicada."))
    if (refusal := _new_session_refused(request)) is not None:
        return refusal
    student = progress.student_for(request, create=True)
    assert student is not None
    progress.reveal_solution(student, lesson.slug, exercise.id)
    return _respond(request, cards.card(lesson, exercise, student, show_solution=True))


@require_POST
def reset_lesson(request: HttpRequest, lesson_slug: str) -> HttpResponse:
    lesson, _exercise = _find(lesson_slug)
    student = progress.student_for(request)
    progress.reset_lesson(student, lesson.slug)
    if getattr(request, "htmx", False):
        return render(
            request, "exercises/exercises.html#block", {"block": cards.block(lesson, student)}
        )
    return redirect(lesson.url + "#ejercicios")
