"""check_lessons reports each front matter mistake as `path:line: error: message` and fails."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

GOOD = {
    "titulo": "Prueba",
    "slug": "prueba",
    "orden": "1",
    "resumen": "Un resumen.",
    "nivel": "básico",
    "duracion": "10",
    "objetivos": "\n  - Uno",
}
# Line numbers in the file: `---` is line 1, then the keys in this order.
LINE = {key: number for number, key in enumerate(GOOD, start=2)}


def lesson(body: str = "Texto.\n", drop: tuple[str, ...] = (), **raw: str) -> str:
    values = {**GOOD, **raw}
    lines = [f"{k}: {v}" if not v.startswith("\n") else f"{k}:{v}" for k, v in values.items()]
    kept = [line for line, key in zip(lines, values, strict=True) if key not in drop]
    return "---\n" + "\n".join(kept) + "\n---\n" + body


def check(path: Path) -> tuple[int, list[str]]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check_lessons", str(path), stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        code = exc.returncode
    lines = [line for line in out.getvalue().splitlines() if re.match(r"^\S+:\d+: ", line)]
    return code, lines


BOMB = (
    "titulo: &a [x, x, x, x, x, x, x, x, x]\n"
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
)

CASES = {
    "no front matter": ("# Solo texto\n", 1, "falta la cabecera YAML"),
    "unclosed front matter": ("---\ntitulo: x\nslug: x\n", 1, "no se cierra"),
    "empty front matter": ("---\n---\nTexto\n", 2, "está vacía"),
    "not a mapping": ("---\n- uno\n- dos\n---\nTexto\n", 2, "«clave: valor»"),
    "missing key": (lesson(drop=("resumen",)), 1, "falta la clave obligatoria «resumen»"),
    "accented key": (
        lesson(drop=("duracion",)).replace("objetivos:", "duración: 10\nobjetivos:"),
        LINE["duracion"],
        "falta la clave obligatoria «duracion» (hay una clave «duración»",
    ),
    "no becomes false": (lesson(titulo="no"), LINE["titulo"], "«no» se lee como el booleano false"),
    "yes becomes true in a level": (
        lesson(nivel="yes"),
        LINE["nivel"],
        "«yes» se lee como el booleano true",
    ),
    "octal order": (lesson(orden="0123"), LINE["orden"], "número octal (vale 83)"),
    "leading zero order": (lesson(orden="09"), LINE["orden"], "se lee como texto por el cero"),
    "order as text": (lesson(orden='"uno"'), LINE["orden"], "«orden» debe ser un número entero"),
    "order as boolean": (lesson(orden="true"), LINE["orden"], "es un booleano (true)"),
    "order out of range": (lesson(orden="0"), LINE["orden"], "debe estar entre 1 y 9999"),
    "sexagesimal duration": (lesson(duracion="1:30"), LINE["duracion"], "base 60 (vale 90)"),
    "duration with unit": (lesson(duracion="15 min"), LINE["duracion"], "sin texto"),
    "float duration": (lesson(duracion="1.5"), LINE["duracion"], "número decimal (1.5)"),
    "date summary": (lesson(resumen="2024-01-31"), LINE["resumen"], "se lee como una fecha"),
    "empty title": (lesson(titulo='""'), LINE["titulo"], "«titulo» está vacío"),
    "unknown level": (lesson(nivel="experto"), LINE["nivel"], "«nivel» debe ser uno de"),
    "level without accent": (lesson(nivel="basico"), LINE["nivel"], "(escribe «básico»)"),
    "bad slug": (lesson(slug="Mi_Leccion"), LINE["slug"], "el slug «Mi_Leccion» solo puede"),
    "objectives as text": (lesson(objetivos="Aprender"), LINE["objetivos"], "debe ser una lista"),
    "empty objectives": (lesson(objetivos="[]"), LINE["objetivos"], "«objetivos» está vacío"),
    "objective that is a number": (
        lesson(objetivos="\n  - Uno\n  - 0123"),
        LINE["objetivos"] + 2,
        "número octal",
    ),
    "duplicate key": (
        lesson().replace("slug: prueba\n", "slug: prueba\ntitulo: Otra\n"),
        LINE["slug"] + 1,
        "la clave «titulo» está repetida (ya aparece en la línea 2)",
    ),
    "byte order mark": ("\ufeff" + lesson(), 1, "marca de orden de bytes (BOM)"),
    "alias bomb": ("---\n" + BOMB + "---\nTexto\n", 6, "bomba de alias"),
    "too many aliases": (
        "---\nx: &x 1\ny: [" + ", ".join(["*x"] * 150) + "]\n---\n",
        3,
        "demasiados alias",
    ),
    "tab indentation": (lesson().replace("  - Uno", "\t- Uno"), LINE["objetivos"] + 1, "tabulador"),
    "colon in a value": (lesson(titulo="Docker: lo básico: intro"), LINE["titulo"], "«: »"),
    "mojibake": (
        lesson(body="Bien.\n## " + "🐳 ¿Qué es?".encode().decode("mac_roman") + "\n"),
        12,
        "mojibake): «⟨U+F8FF⟩üê≥» debería ser «🐳»",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_mistake_is_one_line_with_file_line_and_message(case: str, tmp_path: Path) -> None:
    content, line, message = CASES[case]
    path = tmp_path / "01-prueba.md"
    path.write_text(content, encoding="utf-8")

    code, lines = check(path)

    assert code == 1
    expected = f"{path.name}:{line}: error: "
    matching = [entry for entry in lines if expected in entry and message in entry]
    assert matching, "\n".join(lines)


def test_a_file_that_is_not_utf8_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "01-prueba.md"
    path.write_bytes(lesson(body="Primera\nCanción\n").encode("cp1252"))
    code, lines = check(path)
    assert code == 1
    # The first byte that is not UTF-8 is the «á» of «básico», on the `nivel` line.
    nivel = f":{LINE['nivel']}: error: el archivo no está en UTF-8 (byte 0xE1"
    assert any(nivel in entry for entry in lines), lines
    assert any("import_lesson" in entry for entry in lines)


def test_the_good_lesson_passes(tmp_path: Path) -> None:
    path = tmp_path / "01-prueba.md"
    path.write_text(lesson(), encoding="utf-8")
    assert check(path) == (0, [])


def test_unknown_keys_and_yaml_traps_outside_known_fields_only_warn(tmp_path: Path) -> None:
    path = tmp_path / "01-prueba.md"
    path.write_text(lesson().replace("---\nTexto", "autor: Ana\nrevisado: no\n---\nTexto"))
    code, lines = check(path)
    assert code == 0
    assert any(":10: aviso: clave desconocida «autor»" in entry for entry in lines), lines
    assert any(":11: aviso: «no» se lee como el booleano false" in entry for entry in lines)
