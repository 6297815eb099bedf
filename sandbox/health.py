"""What /sandbox/salud/ reports: can this server open terminals right now?"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from sandbox import engine


async def snapshot() -> tuple[bool, dict[str, Any]]:
    """(ok, JSON-able report). ok needs an answering engine and the course image. Nothing in
    the report is secret: no addresses, paths, owners or container ids."""
    if not settings.SANDBOX_ENABLED:
        return True, {
            "ok": True,
            "enabled": False,
            "message": _("Los entornos de práctica están desactivados en este servidor."),
        }
    status = await engine.engine_status()
    ok = status.available and status.image_present
    if not status.available:
        message = _("El motor de Docker no responde: las terminales no pueden abrirse.")
    elif not status.image_present:
        message = _("Falta la imagen del curso: ejecuta «python manage.py build_images».")
    else:
        message = _("Todo en orden.")
    return ok, {
        "ok": ok,
        "enabled": True,
        "message": message,
        "engine": {
            "available": status.available,
            "version": status.version,
            "api_version": status.api_version,
        },
        "image": {"name": status.image, "present": status.image_present},
        "sandboxes": {
            "live": status.live,
            "pool": status.pool,
            "max_live": settings.SANDBOX_MAX_LIVE,
            "warm_pool_target": settings.SANDBOX_WARM_POOL,
        },
    }
