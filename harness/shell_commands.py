"""Commands a test types in a student's sandbox shell (no imports: usable by any test)."""

from __future__ import annotations


def curl_once_listening(url: str) -> str:
    """The student's command that waits (up to 30 s) until something answers at `url` inside
    the sandbox, then prints what curl gets there. A fixed `sleep 1` before curl was not enough
    for a container starting on a loaded machine."""
    return (
        f"for i in $(seq 150); do curl -s -o /dev/null {url} && break; sleep 0.2; done; "
        f"curl -s {url}"
    )
