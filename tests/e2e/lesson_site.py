"""What browser tests set up around the page: lessons of their own in a folder, and the
containers of their private sandbox instance removed afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def remove_instance_containers(instance: str, *, volumes: bool = False) -> None:
    """Every container labelled with the sandbox instance `instance`, removed, with its
    anonymous volumes when `volumes`. Synchronous: Playwright's sync API keeps an event loop
    running in the test's thread."""
    from sandbox import engine, hardening

    def remove(api: Any) -> None:
        label = f"{hardening.LABEL_INSTANCE}={instance}"
        for item in api.containers(all=True, filters={"label": [label]}):
            api.remove_container(item["Id"], force=True, v=volumes)

    engine.call_sync(remove)


def write_lessons(settings: Any, folder: Path, lessons: dict[str, str]) -> None:
    """The course becomes `lessons` (file name -> text), written to `folder`."""
    folder.mkdir()
    for name, text in lessons.items():
        (folder / name).write_text(text, encoding="utf-8")
    settings.LESSONS_DIR = folder
