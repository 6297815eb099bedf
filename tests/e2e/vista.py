"""The «Vista» tab in browser tests: waiting for a published port to show in the page, and for
the tab's list to offer it."""

from __future__ import annotations

from typing import Any

from .test_terminal_browser import lines


def wait_for_published_port(page: Any, port: int, timeout_ms: int) -> None:
    """Waits for the page's link to `port`; if it never comes, fails with what the terminal
    shows (the student's `docker run` said why)."""
    try:
        page.locator(f"[data-preview-link='{port}']").wait_for(state="attached", timeout=timeout_ms)
    except Exception:
        raise AssertionError("\n".join(lines(page))) from None


def wait_for_vista_option(page: Any, port: int) -> None:
    """Waits for the Vista tab's list to offer `port`."""
    page.wait_for_function(
        "(port) => Array.from(document.querySelectorAll('[data-preview-port] option'))"
        ".some(o => o.value === port)",
        arg=str(port),
    )
