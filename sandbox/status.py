"""What the health endpoint reports: does an engine answer, is the course image there, how many
sandboxes are live and warm."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from sandbox.docker_api.client import (
    PING_TIMEOUT,
    DockerException,
    EngineUnavailable,
    call,
    image_missing_message,
    no_engine_message,
    version_and_image,
)
from sandbox.models import SandboxRecord


@dataclass(frozen=True)
class EngineStatus:
    available: bool
    message: str
    version: str = ""
    api_version: str = ""
    image: str = ""
    image_present: bool = False
    live: int = 0
    pool: int = 0


async def engine_status() -> EngineStatus:
    image = settings.SANDBOX_IMAGE
    try:
        version, api_version, present = await asyncio.wait_for(
            call(version_and_image), PING_TIMEOUT * 2
        )
    except (EngineUnavailable, TimeoutError, DockerException) as exc:
        message = getattr(exc, "message", "") or no_engine_message()
        return EngineStatus(available=False, message=message, image=image)
    counts: dict[str, int] = {SandboxRecord.State.LIVE: 0, SandboxRecord.State.POOL: 0}
    async for row_state in SandboxRecord.objects.filter(
        instance=settings.SANDBOX_INSTANCE
    ).values_list("state", flat=True):
        if row_state in counts:
            counts[row_state] += 1
    return EngineStatus(
        available=True,
        message=_("El motor de Docker responde.") if present else image_missing_message(),
        version=version,
        api_version=api_version,
        image=image,
        image_present=present,
        live=counts[SandboxRecord.State.LIVE],
        pool=counts[SandboxRecord.State.POOL],
    )
