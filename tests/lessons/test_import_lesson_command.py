"""manage.py import_lesson turns a mangled document into a lesson and reports every repair."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from lessons import catalog, frontmatter, mojibake

from .conftest import SEED

CLEAN_DOC = (
    "## 🐳 ¿Qué es una imagen?\n\n"
    "Una **imagen** es la plantilla de un contenedor. ¡Pruébalo! 👍\n\n"
    "## Año nuevo, ñandú y acción\n\n"
    "Texto normal sin acentos.\n"
)


def _import(source: Path, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_lesson", str(source), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_imports_the_seed_as_lesson_one(lessons_dir: Path, client: Client) -> None:
    _out, err = _import(
        SEED, "--slug", "que-es-docker", "--order", "1", "--title", "¿Qué es Docker?"
    )

    created = lessons_dir / "01-que-es-docker.md"
    text = created.read_text(encoding="utf-8")
    assert text.startswith("---\ntitulo: ¿Qué es Docker?\nslug: que-es-docker\norden: 1\n")
    assert "## 🐣 ¿Por dónde empiezo?" in text
    assert "## 🤔 ¿Qué diferencia tiene con una máquina virtual?" in text
    assert "√" not in text and "\uf8ff" not in text

    warnings = [line for line in err.splitlines() if "reparado" in line]
    assert len(warnings) == len(mojibake.repair(SEED.read_text(encoding="utf-8")).repairs) == 61
    assert warnings[0] == (
        f"{SEED}:1: aviso: reparado «⟨U+F8FF⟩üê£» → «🐣» (UTF-8 leído como Mac Roman)"
    )
    assert f"{SEED}:1: aviso: reparado «¬ø» → «¿» (UTF-8 leído como Mac Roman)" in warnings
    assert all(re.match(rf"{re.escape(str(SEED))}:\d+: aviso: ", line) for line in warnings)
    # The heading glued to a quote gets its own line, and the instructor is told.
    assert f"{SEED}:14: aviso: se añade una línea en blanco" in err

    lesson = catalog.get_lesson("que-es-docker")
    assert lesson is not None and not [p for p in lesson.problems if p.is_error]
    html = client.get("/lecciones/que-es-docker/").content.decode()
    assert "¿Por dónde empiezo?" in html and "🐳" in html and "👍" in html


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_it_repairs_documents_mangled_through(
    encoding: str, lessons_dir: Path, tmp_path: Path
) -> None:
    raw = CLEAN_DOC.encode("utf-8")
    if encoding == "cp1252":
        mangled = "".join(
            chr(b) if b in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else bytes([b]).decode("cp1252")
            for b in raw
        )
    else:
        mangled = raw.decode("latin-1")
    source = tmp_path / "viejo.md"
    source.write_text(mangled, encoding="utf-8")

    _out, err = _import(source, "--slug", "imagenes", "--order", "4")

    text = (lessons_dir / "04-imagenes.md").read_text(encoding="utf-8")
    assert text.endswith(CLEAN_DOC)
    repairs = [line for line in err.splitlines() if "reparado" in line]
    # Where both readings give the same characters (`Ã±`), the first one tried is named.
    labels = {re.search(r"leído como ([\w-]+)", line).group(1) for line in repairs}
    expected = {"Windows-1252"} if encoding == "cp1252" else {"Windows-1252", "Latin-1"}
    assert labels == expected
    assert {int(line.split(":")[1]) for line in repairs} == {1, 3, 5}
    assert "titulo: ¿Qué es una imagen?" in text  # from the first heading, emoji dropped


def test_a_legacy_encoded_file_is_read_with_encoding(lessons_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "antiguo.md"
    source.write_bytes("## Año\n\nCanción de ñandú.\n".encode("cp1252"))
    with pytest.raises(CommandError, match="no es utf-8 válido"):
        _import(source, "--slug", "antiguo", "--order", "1")

    _out, err = _import(source, "--slug", "antiguo", "--order", "1", "--encoding", "cp1252")
    assert "Canción de ñandú." in (lessons_dir / "01-antiguo.md").read_text(encoding="utf-8")
    assert "reparado" not in err


def test_it_never_overwrites_without_force(lessons_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "doc.md"
    source.write_text(CLEAN_DOC, encoding="utf-8")
    _import(source, "--slug", "doc", "--order", "1")
    with pytest.raises(CommandError, match="ya existe"):
        _import(source, "--slug", "doc", "--order", "1")
    _import(source, "--slug", "doc", "--order", "1", "--force", "--title", "Nuevo")
    assert "titulo: Nuevo" in (lessons_dir / "01-doc.md").read_text(encoding="utf-8")


def test_dry_run_writes_nothing(lessons_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "doc.md"
    source.write_text(CLEAN_DOC, encoding="utf-8")
    out, _err = _import(source, "--slug", "doc", "--order", "1", "--dry-run")
    assert out.startswith("---\ntitulo:")
    assert list(lessons_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--slug", "Con Mayúsculas", "--order", "1"], "minúsculas"),
        (["--slug", "ok", "--order", "0"], "orden"),
    ],
)
def test_it_refuses_bad_metadata(
    lessons_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    source = tmp_path / "doc.md"
    source.write_text(CLEAN_DOC, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        _import(source, *args)


def test_it_refuses_a_document_that_already_has_front_matter(
    lessons_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "doc.md"
    source.write_text("---\ntitulo: x\n---\nHola\n", encoding="utf-8")
    with pytest.raises(CommandError, match="cabecera"):
        _import(source, "--slug", "doc", "--order", "1")


def test_the_generated_front_matter_is_valid() -> None:
    from lessons.importer import import_document

    result = import_document(
        "## no\n\nsí\n".encode(), slug="no", order=7, title="no", summary="yes"
    )
    parts = frontmatter.split(result.text)
    parsed = frontmatter.read(parts.yaml_text, parts.yaml_line)
    assert parsed.usable and parsed.findings == []
    assert parsed.data["titulo"] == "no" and parsed.data["resumen"] == "yes"  # quoted for YAML
