"""lessons.mojibake undoes UTF-8 read as Mac Roman, cp1252 (also sloppy) and Latin-1."""

from __future__ import annotations

import pytest

from lessons import mojibake

from .conftest import SEED

CLEAN = (
    "¿Por dónde empiezo? 🐣 ¡Hola, año nuevo! Ñandú «cita» — ¿Qué diferencia tiene con una "
    "máquina virtual? 🐳 👍 🏋️ ✨ 1️⃣ 👩‍💻 🇪🇸 café 10 € … “comillas” ‘simples’ · 2º 3ª"
)


def _sloppy_cp1252(data: bytes) -> str:
    """What browsers and many editors show for bytes cp1252 leaves undefined: C1 controls."""
    undefined = {0x81, 0x8D, 0x8F, 0x90, 0x9D}
    return "".join(chr(b) if b in undefined else bytes([b]).decode("cp1252") for b in data)


MANGLERS = {
    "mac_roman": lambda text: text.encode("utf-8").decode("mac_roman"),
    "cp1252": lambda text: _sloppy_cp1252(text.encode("utf-8")),
    "latin-1": lambda text: text.encode("utf-8").decode("latin-1"),
}


def test_it_repairs_the_whole_seed_document() -> None:
    seed = SEED.read_text(encoding="utf-8")
    result = mojibake.repair(seed)

    assert result.text == seed.encode("mac_roman").decode("utf-8")
    for phrase in (
        "## 🐣 ¿Por dónde empiezo?",
        "## 🤔 ¿Qué diferencia tiene con una máquina virtual?",
        "🐳 [docker]",
        "plantillas_ 👍.",
        "**Ligero** 🏋️:",
    ):
        assert phrase in result.text
    assert "√" not in result.text and "\uf8ff" not in result.text


def test_it_reports_every_seed_repair_with_its_line() -> None:
    seed = SEED.read_text(encoding="utf-8")
    repairs = mojibake.repair(seed).repairs

    first = repairs[0]
    assert (first.line, first.column, first.after) == (1, 4, "🐣")
    assert first.encoding == "Mac Roman"
    assert "⟨U+F8FF⟩" in first.describe()  # the invisible Apple-logo character is shown
    lines = {r.line for r in repairs}
    assert {1, 3, 14, 25, 27} <= lines
    assert all(seed.split("\n")[r.line - 1][r.column - 1 :].startswith(r.before) for r in repairs)


@pytest.mark.parametrize("encoding", sorted(MANGLERS))
def test_it_repairs_spanish_and_emoji_mangled_through(encoding: str) -> None:
    mangled = MANGLERS[encoding](CLEAN)
    assert mangled != CLEAN

    result = mojibake.repair(mangled)

    assert result.text == CLEAN
    assert result.repairs
    assert all(r.after in CLEAN for r in result.repairs)


@pytest.mark.parametrize("encoding", sorted(MANGLERS))
def test_it_keeps_line_numbers_for_multiline_text(encoding: str) -> None:
    clean = "Primera línea sin nada raro\n\n¿Segunda? Sí, con 🐳\nTercera: año"
    result = mojibake.repair(MANGLERS[encoding](clean))

    assert result.text == clean
    assert sorted({r.line for r in result.repairs}) == [1, 3, 4]


def test_it_repairs_text_mangled_twice() -> None:
    twice = MANGLERS["cp1252"](MANGLERS["mac_roman"]("¿Qué tal? 🐣"))
    assert mojibake.repair(twice).text == "¿Qué tal? 🐣"


@pytest.mark.parametrize(
    "text",
    [
        CLEAN,
        "¿Qué?",
        "ñ",
        "—Él dijo que sí.",  # Mac Roman bytes D1 83 would be Cyrillic «у»
        "«á»",
        "Ésta… y aquélla",
        "ÁÉÍÓÚ áéíóú ÑÑ",
        "São Paulo, ação, coração",
        "Precio: 5 €, 20 ºC, 3ª fila, ½ kilo",
        "",
    ],
)
def test_it_never_touches_correct_text(text: str) -> None:
    result = mojibake.repair(text)
    assert result.text == text
    assert result.repairs == ()
    assert mojibake.detect(text) == []


def test_a_repair_must_lower_the_weirdness() -> None:
    assert mojibake.weirdness("Ã³") > mojibake.weirdness("ó")
    assert mojibake.weirdness("üê£") > mojibake.weirdness("🐣")
    assert mojibake.weirdness("🏋️") == 2  # the emoji and its selector are not a suspicious pair
