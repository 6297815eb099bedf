"""The `http` check reads the answer of the student's own server: hostile bytes. A status that
is not three ASCII digits is «no habla HTTP», never an error out of the check (5,000 digits
passed int()'s limit) (an attack review
answered «HTTP/1.1 ²00»: str.isdigit() took the latin-1 «²» for a digit and int() failed, so the
student saw «Algo ha fallado…» and every other check of the click was hidden)."""

from __future__ import annotations

import pytest

from exercises import checks
from exercises.docker_spec import HttpCheck
from exercises.runner import StepResult

CHECK = HttpCheck(
    index=0, ok="", error="", port=8081, path="/", contains="nginx", status=200, matches=None
)


def judged(answer: bytes) -> checks.Outcome:
    return checks._http(CHECK, StepResult(0, answer, timed_out=False, truncated=False))


@pytest.mark.parametrize(
    "status",
    [
        b"\xb200",
        b"\xb9\xb2\xb3",
        "٢٠٠".encode(),
        "２００".encode(),
        b"2x0",
        b"",
        b"2" * 5000,
        b"2000",
    ],  # fmt: skip
)
def test_a_status_that_is_not_three_ascii_digits_is_not_http(status: bytes) -> None:
    found = judged(b"HTTP/1.1 " + status + b" OK\r\n\r\nWelcome to nginx")
    assert not found.passed
    assert "no habla HTTP" in found.detail, found.detail


def test_a_plain_status_is_still_read() -> None:
    assert judged(b"HTTP/1.1 200 OK\r\n\r\nWelcome to nginx").passed
    found = judged(b"HTTP/1.1 404 Not Found\r\n\r\nWelcome to nginx")
    assert not found.passed and "responde con el código 404" in found.detail
