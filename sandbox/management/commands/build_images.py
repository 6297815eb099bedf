"""manage.py build_images: builds the course image (the students' sandbox, offline if need be),
the images lessons run inside it (muelle/hola, muelle/busybox, muelle/web, muelle/debian) and the
stand-ins of the real-world images (nginx, mariadb, python:3.11-slim…), or says they are current.
`--only nginx mariadb` limits the stand-ins built (the sandbox image is always checked)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from sandbox import engine
from sandbox.course_images import CourseImageError, build_course_images
from sandbox.course_images.standin_build import JOBS, build_stand_ins
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
        parser.add_argument(
            "--only",
            nargs="+",
            metavar="IMAGEN",
            help="Solo estas imágenes de práctica (p. ej. nginx mariadb), sin las lecciones.",
        )
        parser.add_argument(
            "--jobs", type=int, default=JOBS, help="Imágenes de práctica construidas a la vez."
        )

    def handle(
        self,
        *args: Any,
        force: bool = False,
        only: list[str] | None = None,
        jobs: int = JOBS,
        **options: Any,
    ) -> None:
        def say(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        try:
            build.build(say, force=force)
            built = []
            if not only:
                say(_("Imágenes de las lecciones (docker run muelle/hola, FROM muelle/debian…):"))
                built += build_course_images(lambda line: say("  " + line), force=force)
            say(_("Imágenes de práctica con nombres reales (nginx, mariadb, python…):"))
            built += build_stand_ins(
                lambda line: say("  " + line), only=only, force=force, jobs=jobs
            )
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
