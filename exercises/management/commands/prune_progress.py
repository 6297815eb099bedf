"""manage.py prune_progress: one pass of exercises.housekeeping at once (each web process runs
it every hour by itself): expired sessions, and the anonymous progress no session reaches."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from exercises import housekeeping
from tutorial.local_database import ensure_migrated


class Command(BaseCommand):
    help = _(
        "Borra las sesiones caducadas y el progreso anónimo que ya no cuelga de ninguna sesión "
        "(cada proceso web lo hace solo cada hora)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_migrated(self.stdout.write)  # a fresh clone has no tables yet
        deleted = housekeeping.prune()
        self.stdout.write(
            _("Sesiones caducadas borradas; filas de progreso anónimo borradas: %(rows)d")
            % {"rows": deleted}
        )
