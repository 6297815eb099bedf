"""The shortest interval between a container's health checks: MIN_SECONDS.

Each health check is a `docker exec` the engine starts itself: work for dockerd, containerd and
runc, outside the student's container and its CPU limit, for as long as the container runs
(with nobody logged in). The engine takes any interval from 1 ms; an attack review measured
about 0.3 of a core of the engine's per container at 1 ms, about 2.5 cores for one student's
eight containers. Real health checks run every few seconds or more.

Checked wherever a student's interval reaches the engine: a container's configuration
(`docker run --health-interval`, and `docker commit`'s) and a Dockerfile's HEALTHCHECK (`docker
commit --change` takes no HEALTHCHECK flags at all). An image they have was made by one of
these, or is a course image, or was pulled from DOCKER_GATEWAY_PULL_ALLOWLIST: an image there
with a shorter interval of its own would bring it along (an operator's choice to make).
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

from .errors import refused

MIN_SECONDS = 1
_NS_PER_SECOND = 1_000_000_000

# Go's time.ParseDuration, which the builder uses for HEALTHCHECK's flags: one or more
# <number><unit>, the number with an optional fraction.
_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": _NS_PER_SECOND,
    "m": 60 * _NS_PER_SECOND,
    "h": 3600 * _NS_PER_SECOND,
}


def too_short(interval_ns: int) -> bool:
    """0 is the engine's default (30 s), or the image's."""
    return 0 < interval_ns < MIN_SECONDS * _NS_PER_SECOND


def duration_ns(text: str) -> int | None:
    """A Go duration as nanoseconds; None when Go would not read it."""
    if text == "0":
        return 0
    total = 0
    position = 0
    while position < len(text):
        found = _PART.match(text, position)
        whole, fraction, unit = found.groups() if found else ("", None, "")
        if found is None or (not whole and not fraction):
            return None
        # As Go adds them: the whole part exactly, the fraction through a float.
        total += int(whole or 0) * _UNIT_NS[unit]
        if fraction and int(fraction):
            scale = 10 ** len(fraction)
            total += int(float(int(fraction)) * (float(_UNIT_NS[unit]) / scale))
        position = found.end()
    return total if position else None


def message() -> str:
    return _(
        "En Muelle las comprobaciones de salud (HEALTHCHECK, --health-interval) van como mucho "
        "una por segundo: el intervalo entre una y otra tiene que ser de %(s)d s o más (cada "
        "una es trabajo del motor, fuera de tu contenedor)."
    ) % {"s": MIN_SECONDS}


def check_config(healthcheck: Any) -> None:
    """Refuses (GatewayError) a configuration's Healthcheck (the API's, intervals in
    nanoseconds) that asks for checks more often than MIN_SECONDS."""
    if not isinstance(healthcheck, dict):
        return
    interval = healthcheck.get("Interval")
    if isinstance(interval, int) and too_short(interval):
        raise refused(message())
