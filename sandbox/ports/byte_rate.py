"""Each student's byte rate (PREVIEW_BYTES_PER_SECOND): what their published ports may carry.

Every byte between a student's browser or terminal and their containers' published ports goes
through the web process: the preview (sandbox.preview.forward, its websockets) and `curl
localhost:<port>` in their terminal (sandbox.ports.table copies it between the two network
namespaces). One token bucket per student, shared by all of them, so a student cannot take the
web process's time (and every other student's terminal and preview with it) by streaming through
one of them.
"""

from __future__ import annotations

from django.conf import settings

from sandbox.token_bucket import RateLimit

_limits: dict[str, RateLimit] = {}


def limit_for(public_id: str) -> RateLimit:
    """The student's byte rate, by their public id (sandbox.ports.students.public_id)."""
    limit = _limits.get(public_id)
    if limit is None:
        limit = _limits[public_id] = RateLimit(settings.PREVIEW_BYTES_PER_SECOND)
    return limit
