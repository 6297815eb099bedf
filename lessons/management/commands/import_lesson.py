"""manage.py import_lesson SOURCE --slug SLUG --order N: a document becomes a lesson file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from lessons import frontmatter, importer


class Command(BaseCommand):
    help = (
        "Convierte un documento markdown en una lección (con cabecera YAML) y repara el texto "
        "mal codificado (mojibake), avisando de cada cambio."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", type=Path, help="documento de origen")
        parser.add_argument("--slug", required=True, help="p. ej. que-es-docker")
        parser.add_argument("--order", type=int, required=True, help="posición en el curso")
        parser.add_argument("--title", help="título (por defecto, el primer título del texto)")
        parser.add_argument("--summary", help="resumen de una o dos frases")
        parser.add_argument("--level", default="básico", choices=frontmatter.LEVELS)
        parser.add_argument("--duration", type=int, help="minutos (por defecto, una estimación)")
        parser.add_argument(
            "--objective", action="append", dest="objectives", help="objetivo (repetible)"
        )
        parser.add_argument(
            "--encoding", default="utf-8", help="codificación del documento (utf-8 por defecto)"
        )
        parser.add_argument(
            "--output",
            type=Path,
            help="archivo de destino (por defecto LESSONS_DIR/NN-slug.md)",
        )
        parser.add_argument("--force", action="store_true", help="sobrescribe el destino")
        parser.add_argument(
            "--dry-run", action="store_true", help="muestra el resultado sin escribir nada"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source: Path = options["source"]
        if not frontmatter.SLUG_PATTERN.fullmatch(options["slug"]):
            raise CommandError(
                _("El slug solo puede tener minúsculas sin tilde, números y guiones sueltos.")
            )
        try:
            raw = source.read_bytes()
        except OSError as exc:
            raise CommandError(
                _("No se puede leer %(path)s: %(error)s") % {"path": source, "error": exc.strerror}
            ) from None
        try:
            result = importer.import_document(
                raw,
                slug=options["slug"],
                order=options["order"],
                title=options["title"],
                summary=options["summary"],
                level=options["level"],
                duration=options["duration"],
                objectives=options["objectives"],
                encoding=options["encoding"],
            )
        except importer.ImportFailed as exc:
            raise CommandError(f"{source}: {exc}") from None

        for note in result.notes:
            self.stderr.write(f"{source}:{note.line}: {_('aviso')}: {note.message}")

        if options["dry_run"]:
            self.stdout.write(result.text, ending="")
            return
        output: Path = options["output"] or (
            Path(settings.LESSONS_DIR) / f"{options['order']:02d}-{options['slug']}.md"
        )
        if output.exists() and not options["force"]:
            raise CommandError(
                _("%(path)s ya existe; usa --force para sobrescribirlo.") % {"path": output}
            )
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(result.text, encoding="utf-8")
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Lección creada: %(path)s (%(repairs)d reparaciones de codificación, "
                    "%(notes)d avisos). Revisa el resumen y los objetivos y comprueba la lección "
                    "con: python manage.py check_lessons"
                )
                % {"path": output, "repairs": len(result.repairs), "notes": len(result.notes)}
            )
        )
