"""check_lessons across the course: duplicates, links, images, one path, the real content."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from .conftest import WriteLesson

LINE_FORMAT = re.compile(r"^\S+:\d+: (error|aviso): .+$")


def run(*args: str) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check_lessons", *args, stdout=out, stderr=err)
        code = 0
        summary = out.getvalue().strip().splitlines()[-1]
    except CommandError as exc:
        code, summary = exc.returncode, str(exc)
    problems = [line for line in out.getvalue().splitlines() if LINE_FORMAT.match(line)]
    return code, problems, summary


def test_the_committed_lessons_pass() -> None:
    code, problems, summary = run(str(settings.BASE_DIR / "content" / "lessons"))
    assert code == 0, problems
    assert problems == []
    root = settings.BASE_DIR / "content" / "lessons"
    count = sum(1 for p in root.iterdir() if p.suffix == ".md" or (p / "index.md").is_file())
    assert summary.startswith(f"{count} lecciones comprobadas: 0 errores, 0 avisos")


def test_duplicate_slugs_and_orders(write_lesson: WriteLesson, lessons_dir: Path) -> None:
    write_lesson("01-a.md", slug="misma", orden=1)
    write_lesson("02-b.md", slug="misma", orden=2)
    write_lesson("03-c.md", slug="otra", orden=2)

    code, problems, _summary = run()

    assert code == 1
    assert any(p.endswith("02-b.md:3: error: el slug «misma» ya lo usa 01-a.md") for p in problems)
    assert any(p.endswith("03-c.md:4: error: el orden 2 ya lo usa 02-b.md") for p in problems)


def test_broken_internal_links_and_missing_images(
    write_lesson: WriteLesson, lessons_dir: Path
) -> None:
    write_lesson("01-destino.md", slug="destino")
    body = "\n".join(
        [
            "[bien](/lecciones/destino/) [bien también](../01-destino.md#hola)",  # line 12
            "[roto](/lecciones/no-existe/)",  # 13
            "[roto relativo](../no-existe/)",  # 14
            "[archivo roto](02-no-existe.md)",  # 15
            "![sin imagen](foto.png)",  # 16
            "![imagen que falta](img/no-esta.png)",  # 17
            '<img src="img/tampoco.png" alt="x">',  # 18
            "![externa](https://example.org/x.png) [externo](https://example.org/)",  # 19
            "`[en código](/lecciones/no-existe/)`",  # 20
            "```",  # 21
            "[en un bloque](/lecciones/no-existe/)",  # 22
            "```",  # 23
            "[ref roto][r]",  # 24
            "",  # 25
            "[r]: /lecciones/tampoco-existe/",  # 26
            "![bien](img/si.png)",  # 27
        ]
    )
    write_lesson("02-origen/index.md", body, slug="origen", orden=2)
    (lessons_dir / "02-origen" / "img").mkdir()
    (lessons_dir / "02-origen" / "img" / "si.png").write_bytes(b"\x89PNG")
    write_lesson("03-suelta.md", "![suelta](foto.png)\n", slug="suelta", orden=3)

    code, problems, _summary = run()

    assert code == 1
    origin = [p.split("02-origen/index.md:", 1)[1] for p in problems if "02-origen/" in p]
    assert origin == [
        "13: error: enlace roto: no hay ninguna lección con el slug «no-existe»",
        "14: error: enlace roto: no hay ninguna lección con el slug «no-existe»",
        "15: error: enlace roto: «02-no-existe.md» no es ninguna lección",
        "16: error: imagen no encontrada: «foto.png»",
        "17: error: imagen no encontrada: «img/no-esta.png»",
        "18: error: imagen no encontrada: «img/tampoco.png»",
        "26: error: enlace roto: no hay ninguna lección con el slug «tampoco-existe»",
    ]
    assert any(
        "03-suelta.md:12: error: «foto.png»: esta lección es un solo archivo" in p for p in problems
    )


def test_one_path_checks_only_that_lesson_but_within_its_course(
    write_lesson: WriteLesson, lessons_dir: Path
) -> None:
    good = write_lesson("01-bien.md", "[ver](/lecciones/mala/)\n", slug="bien")
    bad = write_lesson("02-mal.md", slug="mala", orden=2, nivel="experto")
    folder = write_lesson("03-carpeta/index.md", slug="carpeta", orden=3, duracion=0)

    assert run(str(good))[0] == 0  # its link to "mala" counts: the lesson exists
    code, problems, summary = run(str(bad))
    assert code == 1 and len(problems) == 1 and "02-mal.md:6: error:" in problems[0]
    assert summary.startswith("1 lección comprobada: 1 error,")
    code, problems, _summary = run(str(folder.parent))
    assert code == 1 and all("03-carpeta/index.md:" in p for p in problems)


def test_stray_files_and_folders_are_reported_not_dropped(
    write_lesson: WriteLesson, lessons_dir: Path
) -> None:
    write_lesson("01-bien.md", slug="bien")
    (lessons_dir / "02-sin-index").mkdir()
    (lessons_dir / "03-leccion.markdown").write_text("# x")
    (lessons_dir / "_borrador.md").write_text("sin cabecera")  # a leading _ hides a draft

    code, problems, _summary = run()

    assert code == 0
    assert any("02-sin-index:1: aviso: la carpeta no tiene index.md" in p for p in problems)
    assert any("03-leccion.markdown:1: aviso: no es una lección" in p for p in problems)
    assert not any("_borrador" in p for p in problems)


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No existe"):
        call_command("check_lessons", str(tmp_path / "nada"), stdout=io.StringIO())


def test_runnable_block_pitfalls_are_warnings(write_lesson: WriteLesson) -> None:
    write_lesson(
        "01-x.md",
        "```bash {.ejecutable}\nls\n```\n\n"
        "```python ejecutable\nprint(1)\n```\n\n"
        "> cita\n## título\n",
        slug="x",
    )
    code, problems, _summary = run()
    assert code == 0
    assert any(":12: aviso: opciones de bloque de código no reconocidas" in p for p in problems)
    assert any(":16: aviso: un bloque «python» marcado como ejecutable" in p for p in problems)
    assert any(":21: aviso: este título va justo después de una cita" in p for p in problems)
