"""A problem found in a lesson file, reported as `path:line: error|aviso: message`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

ERROR = "error"
WARNING = "aviso"


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    level: str  # ERROR or WARNING (Spanish words: they are printed as they are)
    message: str  # Spanish: instructors read it
    # A blocking problem makes the lesson unavailable to students (no usable front matter, not
    # UTF-8, a slug already taken); the others are shown to staff and fail check_lessons only.
    blocking: bool = False

    @property
    def is_error(self) -> bool:
        return self.level == ERROR

    @property
    def display_path(self) -> str:
        """The path relative to the project when it lies inside it (no server paths on pages)."""
        return display_path(self.path)

    def format(self) -> str:
        return f"{self.display_path}:{self.line}: {self.level}: {self.message}"

    def __str__(self) -> str:
        return self.format()


def display_path(path: Path) -> str:
    for root in (Path(settings.BASE_DIR), Path(settings.LESSONS_DIR).parent, Path.cwd()):
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            continue
    return str(path)


def error(path: Path, line: int, message: str, *, blocking: bool = False) -> Problem:
    return Problem(path, line, ERROR, message, blocking)


def warning(path: Path, line: int, message: str) -> Problem:
    return Problem(path, line, WARNING, message)
