"""manage.py new_lesson TITULO: writes a new lesson folder that already passes check_lessons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from lessons import catalog, frontmatter, scaffold


class Command(BaseCommand):
    help = (
        "Crea una lección nueva (carpeta con index.md) con su cabecera, un bloque ejecutable y "
        "un ejercicio de ejemplo, lista para editar."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("title", help="título de la lección")
        parser.add_argument("--slug", help="por defecto, sale del título")
        parser.add_argument("--order", type=int, help="por defecto, la siguiente del curso")
        parser.add_argument(
            "--dir", type=Path, help="carpeta de lecciones (por defecto LESSONS_DIR)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        root: Path = options["dir"] or Path(settings.LESSONS_DIR)
        title = options["title"].strip()
        if not title:
            raise CommandError(_("El título no puede estar vacío."))
        slug = options["slug"] or scaffold.slugify(title)
        if not frontmatter.SLUG_PATTERN.fullmatch(slug):
            raise CommandError(
                _("El slug solo puede tener minúsculas sin tilde, números y guiones sueltos.")
            )
        course = catalog.build_catalog(root, use_cache=False)
        taken = course.find(slug)
        if taken is not None:
            raise CommandError(
                _("El slug «%(slug)s» ya lo usa %(path)s.") % {"slug": slug, "path": taken.path}
            )
        orders = [lesson.order for lesson in course.entries if lesson.order is not None]
        order = options["order"] or (max(orders, default=0) + 1)
        low, high = frontmatter.ORDER_RANGE
        if not low <= order <= high:
            raise CommandError(
                _("El orden debe estar entre %(low)d y %(high)d.") % {"low": low, "high": high}
            )
        folder = root / f"{order:02d}-{slug}"
        if folder.exists():
            raise CommandError(_("%(path)s ya existe.") % {"path": folder})
        folder.mkdir(parents=True)
        index = folder / catalog.INDEX_FILE
        index.write_text(scaffold.lesson_text(title, slug, order), encoding="utf-8")
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Lección creada: %(path)s (orden %(order)d, slug %(slug)s). Edítala y "
                    "compruébala con: python manage.py check_lessons %(folder)s"
                )
                % {"path": index, "order": order, "slug": slug, "folder": folder}
            )
        )
