"""A student who logs out loses their terminals and their sandbox at once.

The terminal belongs to the browser session (sandbox.terminals.owner_key); logging out flushes
that session, yet its shell stayed open, in the tab and in the reconnect grace. Django's
`user_logged_out` fires before the flush, while the old key is still known: every event loop of
this process that holds terminals of that owner (tutorial.asgi serves one) closes them with a
Spanish notice and 4403, and removes the sandbox. Another server process does not hear of it;
there each open terminal checks every TERMINAL_SESSION_CHECK seconds that its session still
exists (sandbox.consumers), which also catches a key cycled by a login, or an expiry.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.utils.translation import gettext as _


def session_ended_notice() -> dict[str, Any]:
    return {
        "type": "notice",
        "level": "info",
        "message": _(
            "Tu sesión del navegador ha terminado (has entrado o salido de tu cuenta, o ha "
            "caducado), así que tu terminal y tu entorno se han cerrado. Recarga la página para "
            "empezar de nuevo."
        ),
    }


def logged_out_notice() -> dict[str, Any]:
    return {
        "type": "notice",
        "level": "info",
        "message": _(
            "Has cerrado la sesión, así que tu terminal y tu entorno se han cerrado. Recarga la "
            "página para empezar de nuevo."
        ),
    }


@receiver(user_logged_out, dispatch_uid="sandbox.session_end")
def end_terminals_on_logout(sender: Any, request: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if not key:
        return
    from sandbox import terminals  # sandbox.engine and the Docker SDK only when it matters

    owner = terminals.owner_key(key)
    for loop, registry in list(terminals.registries()):
        if loop.is_closed():
            continue
        # From a sync view's worker thread or from the loop itself: either way, on the loop.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(registry.end_session, owner, logged_out_notice())
