"""Which running container is a student's sandbox (the container their terminal runs in).

Found by labels no student can set (the gateway refuses `muelle.*` on what they make): the
gateway folder it mounts and the sandbox role. Anything that also carries the student label is
one of theirs, never their sandbox. The port table (sandbox/ports/table.py, to listen on the
sandbox's loopback) and the disk measure (disk_host.py, to look at the terminal's processes)
both ask here, so they can never disagree on which container it is.
"""

from __future__ import annotations

import json

from sandbox.engine_names import LABEL_GATEWAY, LABEL_ROLE, LABEL_STUDENT, SANDBOX_ROLE

from .upstream import Upstream


async def running_sandboxes(engine: Upstream, folder: str | None) -> list[str]:
    """Ids of the running sandboxes that mount the gateway folder `folder` (one, or none when
    it is not running; None as folder: the student has no sandbox)."""
    if folder is None:
        return []
    filters = {"label": [f"{LABEL_GATEWAY}={folder}", f"{LABEL_ROLE}={SANDBOX_ROLE}"]}
    listed = await engine.json("GET", "/containers/json", query={"filters": json.dumps(filters)})
    return [
        str(container["Id"])
        for container in listed or []
        if not (container.get("Labels") or {}).get(LABEL_STUDENT)
    ]
