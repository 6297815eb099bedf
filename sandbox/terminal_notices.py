"""What a terminal tells the student: the JSON events and notices sent beside the output, in
Spanish, shown as they are (docs/terminal-protocol.md)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from tutorial.env import format_size, parse_size


def spoken_duration(seconds: float) -> str:
    seconds = max(0, int(math.ceil(seconds)))
    if seconds >= 90:
        minutes = int(round(seconds / 60))
        return ngettext("%(n)d minuto", "%(n)d minutos", minutes) % {"n": minutes}
    return ngettext("%(n)d segundo", "%(n)d segundos", seconds) % {"n": seconds}


def notice(level: str, message: str) -> dict[str, Any]:
    return {"type": "notice", "level": level, "message": message}


def engine_unavailable_notice(detail: str | None) -> dict[str, Any]:
    parts = [
        detail or _("Ningún motor de Docker responde, así que no podemos abrir tu terminal."),
        _(
            "Puedes seguir leyendo las lecciones; vuelve a conectar la terminal dentro de un "
            "rato. Si administras este Muelle: comprueba que Docker está en marcha (docker info) "
            "y vuelve a ejecutar ./scripts/serve, que también prepara las imágenes del curso."
        ),
    ]
    return notice("error", " ".join(parts))


def spoken_memory(size: str | int) -> str:
    """SANDBOX_MEMORY (bytes, or "256m" from an override) as people write it: "256 MB", "1 GB"."""
    try:
        text = format_size(parse_size(size))  # the same grammar as the setting: "1.5g" too
    except ValueError:
        return str(size)
    if text[-1].isdigit():  # not a whole number of KiB: say it in MB, rounded down
        return f"{int(text) // (1024 * 1024)} MB"
    return f"{text[:-1]} {text[-1].upper()}B"


def oom_notice(killed: int) -> dict[str, Any]:
    message = ngettext(
        "Un proceso de tu contenedor usó más memoria de la permitida (%(memory)s) y el sistema "
        "lo ha detenido. Tu terminal sigue funcionando.",
        "%(n)d procesos de tu contenedor usaron más memoria de la permitida (%(memory)s) y el "
        "sistema los ha detenido. Tu terminal sigue funcionando.",
        killed,
    ) % {"n": killed, "memory": spoken_memory(settings.SANDBOX_MEMORY)}
    return notice("warning", message)


def exit_event(reason: str, code: int | None) -> dict[str, Any]:
    if reason == "oom":
        message = _(
            "Tu contenedor se quedó sin memoria (el límite es %(memory)s) y el sistema lo detuvo. "
            "Vuelve a conectar para empezar con uno nuevo."
        ) % {"memory": spoken_memory(settings.SANDBOX_MEMORY)}
    elif reason == "killed":
        message = _(
            "Tu contenedor se ha detenido desde fuera (por ejemplo, al reiniciar el servidor). "
            "Vuelve a conectar para empezar con uno nuevo."
        )
    elif code is None:
        message = _("La shell ha terminado. Vuelve a conectar para abrir otra.")
    else:
        message = _(
            "La shell ha terminado (código de salida %(code)d). Vuelve a conectar para abrir otra."
        ) % {"code": code}
    return {"type": "exit", "code": code, "reason": reason, "message": message}


def expiry_warning(reason: str, seconds_left: float) -> dict[str, Any]:
    when = spoken_duration(seconds_left)
    if reason == "idle":
        message = _(
            "Tu entorno se cerrará dentro de %(when)s por inactividad. Escribe algo en la terminal "
            "para mantenerlo abierto."
        ) % {"when": when}
    else:
        message = _(
            "Tu entorno llegará a su tiempo máximo dentro de %(when)s y se borrará. Guarda lo que "
            "quieras conservar: al volver a conectar tendrás uno nuevo y vacío."
        ) % {"when": when}
    return {
        "type": "expiry",
        "reason": reason,
        "seconds_left": max(0, int(round(seconds_left))),
        "message": message,
    }


def expired_notice(reason: str) -> dict[str, Any]:
    if reason == "idle":
        message = _(
            "Tu entorno se ha cerrado tras %(when)s sin actividad. Vuelve a conectar para empezar "
            "con uno nuevo."
        ) % {"when": spoken_duration(settings.SANDBOX_IDLE_TIMEOUT)}
    else:
        message = _(
            "Tu entorno ha llegado a su tiempo máximo (%(when)s) y se ha borrado. Vuelve a "
            "conectar para empezar con uno nuevo."
        ) % {"when": spoken_duration(settings.SANDBOX_MAX_LIFETIME)}
    return notice("warning", message)


def queued_event(position: int) -> dict[str, Any]:
    return {
        "type": "queued",
        "position": position,
        "message": _(
            "Hay muchas personas practicando ahora mismo. Estás en el puesto %(position)d de la "
            "cola; tu terminal se abrirá en cuanto haya sitio."
        )
        % {"position": position},
    }


def address_queued_event(position: int) -> dict[str, Any]:
    return {
        "type": "queued",
        "position": position,
        "reason": "address",
        "message": _(
            "Desde tu red (la misma dirección de Internet) ya hay %(n)d entornos abiertos, el "
            "máximo por dirección. Estás en el puesto %(position)d de la cola de tu red; tu "
            "terminal se abrirá en cuanto se cierre alguno de ellos."
        )
        % {"n": settings.CLIENT_MAX_SANDBOXES, "position": position},
    }


def address_full_message() -> str:
    """The editor's and the exercise checks' refusal when the address holds its share of the
    sandboxes (they wait in no line: sandbox.terminals.lease_without_terminal)."""
    count = settings.CLIENT_MAX_SANDBOXES
    return ngettext(
        "Desde tu red (la misma dirección de Internet) ya hay %(n)d entorno abierto, el máximo "
        "por dirección. Cierra alguna terminal y vuelve a intentarlo dentro de un rato.",
        "Desde tu red (la misma dirección de Internet) ya hay %(n)d entornos abiertos, el máximo "
        "por dirección. Cierra alguna terminal y vuelve a intentarlo dentro de un rato.",
        count,
    ) % {"n": count}


def address_full_notice() -> dict[str, Any]:
    return notice(
        "error",
        _(
            "Desde tu red (la misma dirección de Internet) ya hay %(n)d terminales abiertas, el "
            "máximo por dirección. Cierra alguna pestaña con la terminal y vuelve a conectar."
        )
        % {"n": settings.CLIENT_MAX_TERMINALS},
    )


def ready_event(expires_at: datetime, *, reattached: bool, fresh: bool) -> dict[str, Any]:
    if reattached:
        message = _("Terminal reconectada: sigues en la misma sesión.")
    elif fresh:
        message = _("Terminal lista, en un entorno nuevo.")
    else:
        message = _("Terminal lista.")
    return {
        "type": "ready",
        "reattached": reattached,
        "fresh": fresh,
        "expires_at": expires_at.isoformat(),
        "idle_timeout": settings.SANDBOX_IDLE_TIMEOUT,
        "message": message,
    }


def fresh_notice() -> dict[str, Any]:
    return notice(
        "info",
        _(
            "Tu entorno anterior terminó, así que tienes uno nuevo y vacío: los archivos que "
            "creaste antes ya no están."
        ),
    )


def taken_over_notice() -> dict[str, Any]:
    return notice(
        "info", _("Esta terminal se ha abierto en otra pestaña o ventana; continúa allí.")
    )


def internal_error_notice() -> dict[str, Any]:
    return notice(
        "error", _("Algo ha fallado al abrir tu terminal. Vuelve a intentarlo en unos segundos.")
    )
