"""FrontMatterLoader: a SafeLoader that records key lines, refuses duplicates, limits aliases."""

from __future__ import annotations

import pytest
import yaml

from lessons import frontmatter


def test_it_records_the_line_of_each_top_level_key() -> None:
    loader = frontmatter.FrontMatterLoader("titulo: x\n\nslug: y\nobjetivos:\n  - a\norden: 1\n")
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    assert data == {"titulo": "x", "slug": "y", "objetivos": ["a"], "orden": 1}
    assert loader.key_lines == {"titulo": 0, "slug": 2, "objetivos": 3, "orden": 5}


@pytest.mark.parametrize(
    "text",
    ["a: 1\na: 2\n", "ejercicios:\n  - id: x\n    id: y\n", "{a: 1, a: 1}"],
)
def test_it_refuses_duplicate_keys_at_any_depth(text: str) -> None:
    with pytest.raises(frontmatter.FrontMatterError) as error:
        frontmatter.load(text)
    assert "está repetida" in str(error.value.problem)


def test_it_refuses_alias_bombs_before_expanding_them() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        levels.append(f"a{level}: &a{level} [{refs}]")
    with pytest.raises(frontmatter.FrontMatterError, match="bomba de alias"):
        frontmatter.load("\n".join(levels))


def test_it_limits_the_number_of_aliases() -> None:
    text = "x: &x 1\ny: [" + ", ".join(["*x"] * (frontmatter.MAX_ALIASES + 1)) + "]\n"
    with pytest.raises(frontmatter.FrontMatterError, match="demasiados alias"):
        frontmatter.load(text)


def test_a_few_aliases_and_merge_keys_still_work() -> None:
    data = frontmatter.load("base: &b {nivel: básico}\notra:\n  <<: *b\n  duracion: 5\n")
    assert data["otra"] == {"nivel": "básico", "duracion": 5}


def test_it_stays_safe() -> None:
    with pytest.raises(yaml.constructor.ConstructorError):
        frontmatter.load("x: !!python/object/apply:os.system ['true']\n")
