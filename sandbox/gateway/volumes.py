"""Creating a student's volumes: always the local driver, never driver options, always labelled.

`local` with options (type=none, o=bind, device=/etc) is a bind mount of any host folder, so
options are refused; and a volume the engine would create on the fly for `-v name:/path` is
created here first, with the student's labels, so it is counted and cleaned up like the rest.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from . import quotas
from .errors import EngineError, GatewayError, refused
from .student import Student


async def ensure_volumes(student: Student, wanted: list[tuple[str, dict[str, str]]]) -> None:
    """Makes sure each (name, labels) exists as the student's volume; quota checked first."""
    missing: dict[str, dict[str, str]] = {}
    for name, labels in wanted:
        if name in missing:
            continue
        info = await student.engine.get_or_none(f"/volumes/{student.ns.object_prefix}{name}")
        if info is None:
            missing[name] = labels
        elif not student.ns.owns_labels(info.get("Labels")):
            raise refused(_("El volumen «%(name)s» no está disponible.") % {"name": name})
    await quotas.check_new_volumes(student, len(missing))
    for name, labels in missing.items():
        await create_volume(student, name, labels)


async def create_volume(student: Student, name: str, labels: dict[str, str]) -> Any:
    try:
        return await student.engine.json(
            "POST",
            "/volumes/create",
            body={
                "Name": student.ns.object_prefix + name,
                "Driver": "local",
                "Labels": {**labels, **student.ns.labels},
            },
        )
    except EngineError as exc:
        raise GatewayError(exc.status, student.ns.strip(exc.message)) from None
