"""Instructor commands that need the database work in a fresh clone.

`verify_solutions` and `run_blocks` hand out sandboxes, and a sandbox is a row. In a fresh clone
nothing has created the tables yet (the run command migrates; an instructor may never have run
it), and Django's answer is a traceback about `sandbox_sandbox`. On the local SQLite file the
tables are created on the spot, as the run command would; a shared database (DATABASE_URL) is
the deployer's, and is only ever migrated on purpose.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils.translation import gettext as _


def _pending() -> bool:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def ensure_migrated(say: Callable[[str], None]) -> None:
    """Creates the local SQLite tables when missing; refuses, in Spanish, on any other database."""
    if not _pending():
        return
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "sqlite":
        raise CommandError(
            _(
                "La base de datos no está al día. Ejecuta antes `python manage.py migrate` "
                "(en un despliegue, como dice docs/despliegue.md)."
            )
        )
    say(
        _("Preparando la base de datos local (%(path)s)…")
        % {"path": connection.settings_dict["NAME"]}
    )
    call_command("migrate", interactive=False, verbosity=0)
