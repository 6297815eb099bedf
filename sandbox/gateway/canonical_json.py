"""Parse a student's JSON the way the engine (Go's encoding/json) would, and canonicalise it.

Go matches struct field names case-insensitively (and with Unicode folding: "ſ" matches "s"),
so `{"hostconfig": {"privileged": true}}` is a privileged container to the engine even though
`body["HostConfig"]` is absent to Python. Map keys (labels, volumes...) are matched exactly.

So parsing is driven by a schema of the engine's structs: struct keys are matched like Go does
and rewritten to their canonical spelling; two keys that Go would fold together, non-ASCII keys
and exact duplicate keys are refused; values are type-checked; keys the engine does not know are
dropped (the engine ignores them too). The gateway then encodes its own JSON from the result,
never the student's bytes.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from .errors import bad_request


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object as the list of its (key, value) pairs, duplicates kept."""


def parse(data: bytes) -> Any:
    """Parses JSON keeping objects as ordered pairs; refuses what Go would read otherwise.

    Invalid UTF-8 (Go reads U+FFFD), a lone surrogate escape such as "\\ud800" (Go reads
    U+FFFD, Python keeps it and would send it back as it came), numbers too large for a
    float64 (Go refuses, Python makes them infinite), NaN and Infinity (not JSON), a BOM and
    data after the value (Go's Decoder ignores it) are all refused."""
    try:
        text = data.decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=_Pairs,
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
        _check_strings(value)
        return value
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad_request(_("El cuerpo de la petición no es JSON válido.")) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} does not fit a float64")
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_strings(value: Any) -> None:
    """Python joins a valid surrogate pair into one character, so one left is a lone one."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise ValueError("lone surrogate")
        elif isinstance(item, _Pairs):
            for key, inner in item:
                stack += (key, inner)
        elif isinstance(item, list):
            stack += item


# --- schema types ---------------------------------------------------------------------------------
class Type:
    name = "valor"

    def convert(self, value: Any, where: str) -> Any:
        raise NotImplementedError


def _type_error(where: str, expected: str) -> Exception:
    return bad_request(
        _("Valor no válido en «%(where)s»: se esperaba %(expected)s.")
        % {"where": where, "expected": expected}
    )


class _Str(Type):
    def convert(self, value: Any, where: str) -> Any:
        if not isinstance(value, str):
            raise _type_error(where, _("un texto"))
        return value


class _Int(Type):
    def convert(self, value: Any, where: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(where, _("un número entero"))
        if not -(2**63) <= value < 2**64:
            raise _type_error(where, _("un número entero"))
        return value


class _Bool(Type):
    def convert(self, value: Any, where: str) -> Any:
        if not isinstance(value, bool):
            raise _type_error(where, _("true o false"))
        return value


class _StrSlice(Type):
    """Docker's strslice: a string or a list of strings."""

    def convert(self, value: Any, where: str) -> Any:
        if isinstance(value, str):
            return [value]
        return ListOf(STR).convert(value, where)


class _Raw(Type):
    """Anything; the policy must look at it and never forward it as it came."""

    def convert(self, value: Any, where: str) -> Any:
        return _plain(value, where)


STR = _Str()
INT = _Int()
BOOL = _Bool()
STRSLICE = _StrSlice()
RAW = _Raw()


@dataclass
class ListOf(Type):
    item: Type

    def convert(self, value: Any, where: str) -> Any:
        if not isinstance(value, list) or isinstance(value, _Pairs):
            raise _type_error(where, _("una lista"))
        out = []
        for index, item in enumerate(value):
            if item is None:
                raise _type_error(f"{where}[{index}]", self.item.name)
            out.append(self.item.convert(item, f"{where}[{index}]"))
        return out


@dataclass
class MapOf(Type):
    """A Go map: keys are data, matched exactly; null values are refused."""

    value: Type

    def convert(self, value: Any, where: str) -> Any:
        if not isinstance(value, _Pairs):
            raise _type_error(where, _("un objeto"))
        out: dict[str, Any] = {}
        for key, item in value:
            _check_key(key, where)
            if key in out:
                raise _duplicate(where, key)
            if item is None and not isinstance(self.value, Struct):
                raise _type_error(f"{where}.{key}", self.value.name)
            out[key] = self.value.convert(item, f"{where}.{key}") if item is not None else {}
        return out


class Struct(Type):
    """A Go struct: keys matched case-insensitively, canonical spelling restored."""

    def __init__(self, fields: dict[str, Type]) -> None:
        self.fields = fields
        self._by_fold = {name.lower(): name for name in fields}

    def convert(self, value: Any, where: str) -> Any:
        if not isinstance(value, _Pairs):
            raise _type_error(where, _("un objeto"))
        out: dict[str, Any] = {}
        seen: set[str] = set()
        for key, item in value:
            _check_key(key, where)
            canonical = self._by_fold.get(key.lower())
            if canonical is None:
                continue  # the engine ignores unknown fields too
            if canonical in seen:
                raise _duplicate(where, key)
            seen.add(canonical)
            if item is None:
                continue  # Go leaves the zero value: same as absent
            out[canonical] = self.fields[canonical].convert(item, f"{where}.{canonical}")
        return out


def _check_key(key: str, where: str) -> None:
    if not key.isascii():
        raise bad_request(
            _("Clave no permitida en «%(where)s»: «%(key)s». Solo se aceptan claves ASCII.")
            % {"where": where or "cuerpo", "key": key}
        )


def _duplicate(where: str, key: str) -> Exception:
    return bad_request(
        _(
            "Clave repetida en «%(where)s»: «%(key)s» (el motor no distingue mayúsculas de "
            "minúsculas en los nombres de campo)."
        )
        % {"where": where or "cuerpo", "key": key}
    )


def _plain(value: Any, where: str) -> Any:
    """Turns parsed pairs into dicts, with the same key checks (for RAW values)."""
    if isinstance(value, _Pairs):
        out: dict[str, Any] = {}
        for key, item in value:
            _check_key(key, where)
            if key.lower() in {k.lower() for k in out}:
                raise _duplicate(where, key)
            out[key] = _plain(item, f"{where}.{key}")
        return out
    if isinstance(value, list):
        return [_plain(item, where) for item in value]
    return value


def canonicalise(data: bytes, schema: Struct, *, empty_ok: bool = True) -> dict[str, Any]:
    """Parses a request body against a struct schema; an empty body is an empty object."""
    if not data.strip():
        if empty_ok:
            return {}
        raise bad_request(_("Falta el cuerpo de la petición."))
    parsed = parse(data)
    if parsed is None:
        return {}
    return schema.convert(parsed, "")


def encode(value: Any) -> bytes:
    """The gateway's own encoding of what it forwards."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode()


def parse_plain(data: bytes) -> Any:
    """Parses a JSON value (e.g. a `filters` query parameter) with the same key checks."""
    return _plain(parse(data), "")
