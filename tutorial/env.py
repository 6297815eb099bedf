"""Small helpers that read settings from the environment and fail loudly.

A typo in a deployment variable must stop the start, not silently fall back to a
default: every helper raises ImproperlyConfigured naming the variable.

Sizes and durations have one grammar each, used by every setting (docs/configuration.md):

- size: a number (`512`, `1.5`) and an optional unit `b`, `k`, `m`, `g` or `t`, in either case,
  optionally followed by `b` or `ib` (`256m`, `256M`, `256MB`, `256MiB` are all the same). Units
  are binary (k = 1024), as Docker's CLI reads `--memory`; a fraction is rounded down to a whole
  byte, as Docker does. The result is bytes, an int.
- duration: a number and an optional unit `s`, `m`, `h` or `d`, in either case (`90`, `90s`,
  `10m`, `1.5h`); no unit means seconds. The result is seconds, a float.

These grammars are for what a DEPLOYER writes. What a student sends through the Docker gateway is
parsed with the engine's and the kernel's own grammars (sandbox/gateway/policy.py), on purpose.
"""

from __future__ import annotations

import math
import os
import re
from decimal import Decimal
from typing import Literal, overload

from django.core.exceptions import ImproperlyConfigured

_SIZE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(?:([kmgt])(?:i?b)?|b)?", re.IGNORECASE | re.ASCII)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_DURATION = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*([smhd])?", re.IGNORECASE | re.ASCII)
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

_TRUE = {"1", "true", "yes", "on", "si", "sí"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_size(text: str | int) -> int:
    """Bytes for a size written as the module docstring says ("256m" -> 268435456).

    An int is taken as bytes already (settings hold bytes; tests may override them either way).
    Raises ValueError on anything else, including a negative number.
    """
    if isinstance(text, bool):  # bool is an int: True is no size
        raise ValueError(f"not a size: {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"not a size: {text!r}")
        return text
    match = _SIZE.fullmatch(str(text).strip())
    if match is None:
        raise ValueError(f"not a size: {text!r}")
    # Decimal, not float: "9007199254740993" must stay that many bytes.
    return math.floor(Decimal(match[1]) * _SIZE_UNITS[(match[2] or "").lower()])


def format_size(size: int) -> str:
    """The shortest exact way to write a number of bytes: 268435456 -> "256m", 1536 -> "1536"...

    The result is read the same by parse_size, Docker's CLI and engine (`--memory`, log
    `max-size`) and the kernel (tmpfs `size=`), so it can be handed to any of them.
    """
    if size < 0:
        raise ValueError(f"not a size: {size!r}")
    for unit in ("t", "g", "m", "k"):
        multiple = _SIZE_UNITS[unit]
        if size and size % multiple == 0:
            return f"{size // multiple}{unit}"
    return str(size)


def parse_duration(text: str | float) -> float:
    """Seconds for a duration written as the module docstring says ("10m" -> 600.0).

    A number is taken as seconds already. Raises ValueError on anything else.
    """
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, (int, float)):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"not a duration: {text!r}")
        return float(text)
    match = _DURATION.fullmatch(str(text).strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return float(match[1]) * _DURATION_UNITS[(match[2] or "").lower()]


def env_size(name: str, default: str | int, *, minimum: str | int | None = None) -> int:
    """Bytes, from the variable or the default (written in the same grammar, e.g. "256m")."""
    raw = os.environ.get(name)
    try:
        value = parse_size(default if raw is None else raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a size like 512, 64k, 256m or 1g, got {raw!r}"
        ) from None
    if minimum is not None and value < parse_size(minimum):
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {raw!r}")
    return value


@overload
def env_duration(
    name: str, default: str | float, *, minimum: float | None = ..., whole: Literal[False] = ...
) -> float: ...
@overload
def env_duration(
    name: str, default: str | float, *, minimum: float | None = ..., whole: Literal[True]
) -> int: ...
def env_duration(
    name: str, default: str | float, *, minimum: float | None = None, whole: bool = False
) -> float:
    """Seconds, from the variable or the default (written in the same grammar, e.g. "15m").

    `whole=True` returns an int and refuses fractions of a second, for settings that end up in
    labels, cookies or headers as integers (a silent rounding would change what was asked).
    """
    raw = os.environ.get(name)
    try:
        value = parse_duration(default if raw is None else raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a duration like 90, 90s, 10m, 1.5h or 1d, got {raw!r}"
        ) from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum:g} seconds, got {raw!r}")
    if whole:
        if not value.is_integer():
            raise ImproperlyConfigured(
                f"{name} must be a whole number of seconds, got {raw!r} ({value:g} s)"
            )
        return int(value)
    return value
