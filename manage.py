#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

from __future__ import annotations

import os
import sys

# Commands an instructor types in a fresh clone (docs/lessons.md). They sign no cookie and serve
# no page, so they may run without a secret; everything else (the server above all) still refuses
# to start without SECRET_KEY unless DEBUG is on.
INSTRUCTOR_COMMANDS = {
    "check_lessons",
    "import_lesson",
    "new_lesson",
    "verify_solutions",
    "run_blocks",
    "build_images",
    "help",
}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorial.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command in INSTRUCTOR_COMMANDS and not os.environ.get("SECRET_KEY"):
        os.environ.setdefault("MUELLE_INSECURE_DEV_KEY", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
