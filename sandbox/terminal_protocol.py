"""The terminal websocket's close codes (docs/terminal-protocol.md), written once.

The server closes with these numbers and the page (static/sandbox/terminal/) decides what to offer
from the same table, rendered into the panel as JSON (`{% terminal_protocol %}`): no number or
text is written again in JavaScript.

`action` is what the page does after the close: "auto" reconnects by itself with backoff;
"reconnect", "retry", "fresh" (a new terminal id), "takeBack" (4009: never by itself) and
"reload" name the one button it offers. `message` is shown when no `notice`/`exit` came before
the close (1006 has none: the browser invents it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_ABNORMAL = 1006  # never sent: the browser reports it when the connection just drops
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_SERVICE_RESTART = 1012  # what uvicorn closes websockets with when the server stops
CLOSE_IDLE = 4000
CLOSE_LIFETIME = 4001
CLOSE_TOO_MANY = 4002
CLOSE_NO_ENGINE = 4003
CLOSE_DIED = 4004
CLOSE_INPUT_FLOOD = 4008
CLOSE_TAKEN_OVER = 4009
# Sent by the page, never by the server: the student closed this terminal's tab, so its shell
# ends at once instead of waiting out the reconnect grace period (and holding a place).
CLOSE_TAB_CLOSED = 4010
CLOSE_NO_SESSION = 4403
CLOSE_INTERNAL = 4500

ACTIONS = frozenset({"auto", "reconnect", "retry", "fresh", "takeBack", "reload"})
# A code the table does not know (a proxy's, a future one) gets this.
DEFAULT_ACTION = "reconnect"


@dataclass(frozen=True)
class CloseCode:
    code: int
    name: str
    action: str
    message: Promise


CLOSE_CODES: tuple[CloseCode, ...] = (
    CloseCode(CLOSE_NORMAL, "normal", "reconnect", _("La shell de tu terminal ha terminado.")),
    CloseCode(
        CLOSE_GOING_AWAY, "going_away", "auto", _("El servidor se ha ido. Volviendo a conectar…")
    ),
    CloseCode(
        CLOSE_ABNORMAL, "abnormal", "auto", _("Se ha cortado la conexión. Volviendo a conectar…")
    ),
    CloseCode(CLOSE_POLICY, "policy", "fresh", _("La terminal ha recibido algo que no entiende.")),
    CloseCode(CLOSE_TOO_BIG, "too_big", "reconnect", _("Has enviado demasiado de una vez.")),
    CloseCode(
        CLOSE_SERVICE_RESTART,
        "service_restart",
        "auto",
        _("El servidor se está reiniciando. Volviendo a conectar…"),
    ),
    CloseCode(CLOSE_IDLE, "idle", "fresh", _("Tu entorno se ha cerrado por inactividad.")),
    CloseCode(CLOSE_LIFETIME, "lifetime", "fresh", _("Tu entorno ha llegado a su tiempo máximo.")),
    CloseCode(CLOSE_TOO_MANY, "too_many", "retry", _("Hay demasiadas terminales abiertas.")),
    CloseCode(
        CLOSE_NO_ENGINE, "no_engine", "retry", _("Las terminales no están disponibles ahora.")
    ),
    CloseCode(CLOSE_DIED, "died", "fresh", _("Tu entorno se ha detenido.")),
    CloseCode(CLOSE_INPUT_FLOOD, "input_flood", "reconnect", _("Has escrito demasiado deprisa.")),
    CloseCode(
        CLOSE_TAKEN_OVER, "taken_over", "takeBack", _("Has abierto esta terminal en otra pestaña.")
    ),
    CloseCode(CLOSE_TAB_CLOSED, "tab_closed", "reconnect", _("Has cerrado esta terminal.")),
    CloseCode(CLOSE_NO_SESSION, "no_session", "reload", _("Tu sesión ha terminado.")),
    CloseCode(CLOSE_INTERNAL, "internal", "retry", _("Algo ha fallado en el servidor.")),
)


def page_table() -> dict[str, Any]:
    """What the page needs, as plain JSON: `{"codes": {"4009": {...}}, "defaultAction": ...,
    "maxTerminals": N}` (N: how many terminal tabs the server lets one session open)."""
    return {
        "codes": {
            str(entry.code): {
                "name": entry.name,
                "action": entry.action,
                "message": str(entry.message),
            }
            for entry in CLOSE_CODES
        },
        "defaultAction": DEFAULT_ACTION,
        "maxTerminals": settings.SANDBOX_MAX_TERMINALS_PER_SESSION,
    }
