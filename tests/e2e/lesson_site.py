"""What browser tests set up around the page: lessons of their own in a folder, and the
containers of their private sandbox instance removed afterwards."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any


def remove_instance_containers(instance: str, *, volumes: bool = False) -> None:
    """Every container labelled with the sandbox instance `instance`, removed, with its
    anonymous volumes when `volumes`, until none has come back for a second and a half: a
    page's terminal may still be making its sandbox when the test ends (each suite run left
    one running).
    Synchronous: Playwright's sync API keeps an event loop running in the test's thread."""
    import docker.errors

    from sandbox import engine, hardening

    def remove(api: Any) -> int:
        label = f"{hardening.LABEL_INSTANCE}={instance}"
        found = api.containers(all=True, filters={"label": [label]})
        for item in found:
            with contextlib.suppress(docker.errors.APIError):  # 404 gone, 409 being removed
                api.remove_container(item["Id"], force=True, v=volumes)
        return len(found)

    deadline = time.monotonic() + 30
    quiet = 0
    while quiet < 3 and time.monotonic() < deadline:
        quiet = quiet + 1 if engine.call_sync(remove) == 0 else 0
        time.sleep(0.5)
    assert quiet >= 3, f"containers of {instance} keep coming back"


def write_lessons(settings: Any, folder: Path, lessons: dict[str, str]) -> None:
    """The course becomes `lessons` (file name -> text), written to `folder`."""
    folder.mkdir()
    for name, text in lessons.items():
        (folder / name).write_text(text, encoding="utf-8")
    settings.LESSONS_DIR = folder
