"""Docker-style errors the CLI prints: a JSON body {"message": "..."} with a 4xx status.

Every refusal says, in Spanish, what was refused and why. Refusals of `containers/create` are
never 404: a 404 there makes the CLI try to pull the image.
"""

from __future__ import annotations

import json


class GatewayError(Exception):
    """A request the gateway answers itself, with an HTTP status and a message for the student."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> bytes:
        return error_body(self.message)


def error_body(message: str) -> bytes:
    return json.dumps({"message": message}, ensure_ascii=False).encode() + b"\n"


def refused(message: str) -> GatewayError:
    """A policy refusal (403): the request is well formed but not allowed in Muelle."""
    return GatewayError(403, message)


def bad_request(message: str) -> GatewayError:
    return GatewayError(400, message)


def not_found(message: str) -> GatewayError:
    return GatewayError(404, message)


def conflict(message: str) -> GatewayError:
    return GatewayError(409, message)


class EngineError(Exception):
    """The real engine answered an internal call with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
