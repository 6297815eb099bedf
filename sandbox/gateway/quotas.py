"""Per-student quotas: how many containers, images, volumes and networks, and how much memory.

Checked just before the gateway creates something, under the student's lock, so two requests
at once cannot both squeeze under a limit (images made outside the lock hold their places while
they are made: image_places). Counts come from the engine (by label), never from
memory kept here: a restart of Muelle does not reset anyone's quota.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from django.utils.translation import gettext as _

from .errors import refused
from .student import Student


def mib(value: int) -> str:
    """A size as the gateway's Spanish messages show it."""
    return f"{value / 1024**2:.0f} MiB"


def _full(what: str, limit: int, hint: str) -> Exception:
    return refused(
        _("Has llegado al máximo de %(limit)d %(what)s en Muelle. %(hint)s")
        % {"limit": limit, "what": what, "hint": hint}
    )


async def _memory_of(student: Student, container_id: str) -> int:
    info = await student.engine.get_or_none(f"/containers/{container_id}/json")
    if not info:
        return 0
    return int((info.get("HostConfig") or {}).get("Memory") or 0)


async def memory_in_use(student: Student, *, excluding: str | None = None) -> int:
    containers = [c["Id"] for c in await student.containers() if c["Id"] != excluding]
    sizes = await asyncio.gather(*(_memory_of(student, c) for c in containers))
    return sum(sizes)


async def check_new_container(student: Student, memory: int) -> None:
    containers = await student.containers()
    limit = student.config.max_containers
    if len(containers) >= limit:
        raise _full(
            _("contenedores"),
            limit,
            _("Borra alguno con «docker rm» (mira cuáles tienes con «docker ps -a»)."),
        )
    await check_memory(student, memory)


async def check_memory(student: Student, memory: int, *, replacing: str | None = None) -> None:
    in_use = await memory_in_use(student, excluding=replacing)
    limit = student.config.max_total_memory
    if in_use + memory > limit:
        raise refused(
            _(
                "Tus contenedores ya reservan %(used)s de memoria y este pediría %(new)s más: el "
                "máximo en Muelle es %(max)s en total. Borra algún contenedor o pide menos con -m."
            )
            % {"used": mib(in_use), "new": mib(memory), "max": mib(limit)}
        )


async def check_new_volumes(student: Student, count: int) -> None:
    limit = student.config.max_volumes
    if count and len(await student.volumes()) + count > limit:
        raise _full(_("volúmenes"), limit, _("Borra alguno con «docker volume rm»."))


async def check_new_network(student: Student) -> None:
    limit = student.config.max_networks
    if len(await student.networks()) >= limit:
        raise _full(_("redes"), limit, _("Borra alguna con «docker network rm»."))


async def check_new_image(student: Student, adding: int = 1) -> None:
    limit = student.config.max_images
    # Read before the engine is asked: an image whose making ends meanwhile is then in one of
    # the two counts at least (it exists before it leaves images_in_making).
    in_making = student.images_in_making
    if await student.own_image_count() + in_making + adding > limit:
        raise _full(
            _("imágenes propias"),
            limit,
            _(
                "Borra alguna con «docker rmi»; las que salen como <none> (restos de "
                "construcciones) se borran todas con «docker image prune»."
            ),
        )


@contextlib.asynccontextmanager
async def image_places(student: Student, adding: int = 1) -> AsyncIterator[None]:
    """The image quota checked, and `adding` places held while the images are made outside the
    student's lock (an import, a build, a pull take long): checked and then made, imports sent
    at once all passed the check (11 images against a quota of 8)."""
    async with student.lock:
        await check_new_image(student, adding)
        student.images_in_making += adding
    try:
        yield
    finally:
        student.images_in_making -= adding
