"""The preview origin's own pages, in Spanish: when nothing answers, or the link is no good.

They are plain, self-contained HTML (this origin loads nothing from Muelle's), and say what to do
next in the student's terminal.
"""

from __future__ import annotations

from typing import Any

from django.utils.html import escape
from django.utils.translation import gettext as _

TEMPLATE = """<!doctype html>
<html lang="es"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;
color:#1b1f24;background:#fff}}h1{{font-size:1.4rem}}code{{background:#eef1f4;padding:0 .25rem;
border-radius:3px}}</style></head>
<body><main><h1>{title}</h1><p>{text}</p></main></body></html>
"""


def page(title: str, text: str) -> bytes:
    """`text` may hold <code>; everything interpolated into it must be escaped already."""
    return TEMPLATE.format(title=escape(title), text=text).encode()


def framing(framer: str | None) -> list[tuple[bytes, bytes]]:
    """Who may show a preview response in a frame: the Muelle page origin a Vista frame grant
    names, or nobody (a page of any other site framing the preview could dress it up, or trick
    the owner into clicks on it)."""
    if framer:
        return [(b"content-security-policy", b"frame-ancestors " + framer.encode("ascii"))]
    return [(b"content-security-policy", b"frame-ancestors 'none'"), (b"x-frame-options", b"DENY")]


def headers(body: bytes, framer: str | None = None) -> list[tuple[bytes, bytes]]:
    """The response headers of one of these pages."""
    return [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        *framing(framer),
    ]


async def send(send_: Any, status: int, body: bytes, framer: str | None = None) -> None:
    """One of these pages as ASGI messages."""
    await send_({"type": "http.response.start", "status": status, "headers": headers(body, framer)})
    await send_({"type": "http.response.body", "body": body})


def nothing_listens(container: str, port: int) -> bytes:
    name = escape(container)
    return page(
        _("Nada responde"),
        _(
            "Nada escucha en el puerto %(port)d del contenedor «%(name)s»: ¿está en marcha? "
            "Mira <code>docker ps</code> y <code>docker logs %(name)s</code>."
        )
        % {"port": port, "name": name},
    )


def not_published(host_port: int) -> bytes:
    return page(
        _("Puerto no publicado"),
        _(
            "Ningún contenedor tuyo publica el puerto %(port)d ahora mismo: puede que se haya "
            "parado o borrado. Mira <code>docker ps</code> y vuelve a abrir la vista desde el "
            "panel de la terminal."
        )
        % {"port": host_port},
    )


def expired() -> bytes:
    return page(
        _("Enlace caducado"),
        _(
            "Este enlace ha caducado o no es para esta vista. Vuelve a abrirla con «Abrir» en "
            "el panel de la terminal de Muelle."
        ),
    )


def bad_host() -> bytes:
    return page(_("Dirección no válida"), _("Esta dirección no corresponde a ninguna vista."))


def timed_out(host_port: int) -> bytes:
    return page(
        _("Sin respuesta"),
        _(
            "Tu contenedor aceptó la conexión en el puerto %(port)d pero no respondió a tiempo. "
            "Mira <code>docker logs</code> de ese contenedor."
        )
        % {"port": host_port},
    )


def bad_answer(host_port: int) -> bytes:
    return page(
        _("Respuesta no válida"),
        _(
            "Lo que responde en el puerto %(port)d no es HTTP válido (o cerró la conexión). "
            "¿Es un servidor web?"
        )
        % {"port": host_port},
    )


def too_many() -> bytes:
    return page(
        _("Demasiadas conexiones"),
        _("Tienes demasiadas conexiones abiertas a tus puertos. Espera un momento y recarga."),
    )


def too_big() -> bytes:
    return page(_("Petición demasiado grande"), _("La petición supera el tamaño permitido."))


def too_slow() -> bytes:
    return page(
        _("Petición demasiado lenta"),
        _("La petición dejó de llegar a medias y se ha cortado. Vuelve a intentarlo."),
    )
