"""manage.py build_images: builds the course image (the students' sandbox, offline if need be)
and the images lessons run inside it (muelle/hola, muelle/busybox, muelle/web, muelle/debian), or
says they are current."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from sandbox import engine
from sandbox.course_images import CourseImageError, build_course_images
from sandbox.images import build


class Command(BaseCommand):
    help = (
        "Construye la imagen del curso y las imágenes que usan las lecciones (sin conexión si no "
        "hay registro de imágenes)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Reconstruye aunque la receta no haya cambiado."
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        def say(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        try:
            build.build(say, force=force)
            say(_("Imágenes de las lecciones (docker run muelle/hola, FROM muelle/debian…):"))
            built = build_course_images(lambda line: say("  " + line), force=force)
            if built:
                say(_("Construidas: %(names)s") % {"names": ", ".join(built)})
        except engine.EngineUnavailable as exc:
            raise CommandError(exc.message) from exc
        except (build.BuildFailed, CourseImageError) as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:  # an engine build error: show it, in one piece
            raise CommandError(
                _("No se pudo construir la imagen: %(error)s") % {"error": exc}
            ) from exc
