"""Reading an instructor's file (a lesson, the glossary) from a regular file only.

The file may have been swapped for something else since its folder was listed or its type was
checked: it is opened without blocking, so a FIFO put in its place answers at once instead of
hanging the catalog (and every page that reads it), and the open file itself is checked.
"""

from __future__ import annotations

import os
from pathlib import Path
from stat import S_ISREG

from django.utils.translation import gettext as _


def read_regular(path: Path, limit: int = -1) -> tuple[bytes, os.stat_result]:
    """Up to `limit` bytes of `path` (all of them by default) and its stat; OSError when it is
    not a regular file (FileNotFoundError when it is not there)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        stat = os.fstat(fd)
        if not S_ISREG(stat.st_mode):
            raise OSError(_("no es un archivo normal"))
        with os.fdopen(fd, "rb", closefd=False) as file:
            return file.read(limit), stat
    finally:
        os.close(fd)
