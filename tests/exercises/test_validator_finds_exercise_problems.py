"""exercises.spec.validate reports each kind of authoring mistake, with its file line."""

from __future__ import annotations

import yaml

from exercises.spec import parse, validate

GOOD = """\
titulo: Lección de prueba
ejercicios:
  - id: primero
    titulo: Primero
    enunciado: Haz algo.
    pista: Prueba otra vez.
    comprobaciones:
      - tipo: comando
        comando: "true"
        ok: Bien.
        error: Mal.
  - id: segundo
    titulo: Segundo
    enunciado: Haz otra cosa.
    pista: Mira la pista.
    depende_de: primero
    comprobaciones:
      - tipo: archivo
        ruta: ~/hola.txt
        coincide: "^hola"
        ok: Está.
        error: No está.
      - tipo: proceso
        nombre: "^sleep [0-9]+"
        ok: Corre.
        error: No corre.
      - tipo: respuesta
        patron: "no\\\\.?"
        ok: Sí.
        error: No.
"""


def problems_of(text: str, first_line: int = 1) -> list[str]:
    return [str(p) for p in validate(yaml.safe_load(text), source=text, first_line=first_line)]


def test_it_accepts_a_valid_list_and_parses_it() -> None:
    assert problems_of(GOOD) == []
    exercises = parse(yaml.safe_load(GOOD))
    assert [e.id for e in exercises] == ["primero", "segundo"]
    assert exercises[1].depends_on == "primero"
    assert exercises[1].needs_answer and not exercises[0].needs_answer


def test_a_lesson_without_exercises_has_no_problems() -> None:
    assert validate({"titulo": "Sin ejercicios"}) == []


def test_it_rejects_an_unknown_check_kind_with_its_line() -> None:
    text = GOOD.replace("tipo: comando", "tipo: comandos")
    [problem] = problems_of(text)
    assert "tipo de comprobación desconocido" in problem
    assert problem.startswith("línea 8:")


def test_line_numbers_count_from_where_the_front_matter_starts_in_the_file() -> None:
    text = GOOD.replace("tipo: comando", "tipo: comandos")
    [problem] = problems_of(text, first_line=2)  # after the opening ---
    assert problem.startswith("línea 9:")


def test_it_reports_missing_success_and_failure_messages() -> None:
    text = GOOD.replace("        ok: Bien.\n", "").replace("        error: No está.\n", "")
    problems = problems_of(text)
    assert len(problems) == 2
    assert any("falta el mensaje «ok»" in p for p in problems)
    assert any("falta el mensaje «error»" in p for p in problems)


def test_it_reports_a_bad_regex() -> None:
    text = GOOD.replace('coincide: "^hola"', 'coincide: "^(hola"')
    [problem] = problems_of(text)
    assert "expresión regular no válida" in problem
    assert "línea 20:" in problem
    assert "ejercicios[2].comprobaciones[1].coincide" in problem


def test_it_reports_duplicate_ids() -> None:
    text = GOOD.replace("id: segundo", "id: primero").replace("    depende_de: primero\n", "")
    [problem] = problems_of(text)
    assert "repetido" in problem and "línea 12:" in problem


def test_it_reports_an_unknown_dependency() -> None:
    text = GOOD.replace("depende_de: primero", "depende_de: cero")
    [problem] = problems_of(text)
    assert "«cero»" in problem and "línea 16:" in problem


def test_it_reports_a_dependency_cycle() -> None:
    text = GOOD.replace("  - id: primero\n", "  - id: primero\n    depende_de: segundo\n")
    problems = problems_of(text)
    assert problems == [
        "línea 4: ejercicios[1].depende_de: dependencia circular: primero → segundo → primero"
    ]


def test_it_reports_an_exercise_depending_on_itself() -> None:
    text = GOOD.replace("depende_de: primero", "depende_de: segundo")
    [problem] = problems_of(text)
    assert "dependencia circular: segundo → segundo" in problem


def test_it_reports_unknown_keys_and_missing_fields() -> None:
    text = GOOD.replace("enunciado: Haz algo.", "enunciad: Haz algo.")
    problems = problems_of(text)
    assert any("clave desconocida «enunciad»" in p for p in problems)
    assert any("falta «enunciado»" in p for p in problems)


def test_an_answer_check_needs_exactly_one_way_to_compare() -> None:
    text = GOOD.replace('patron: "no\\\\.?"', 'patron: "no"\n        esperado: "no"')
    [problem] = problems_of(text)
    assert "exactamente una de: esperado, patron o comando" in problem


def test_it_reports_a_kind_specific_field_missing() -> None:
    text = GOOD.replace('        comando: "true"\n', "")
    [problem] = problems_of(text)
    assert "necesita «comando»" in problem


def test_it_reports_bad_solution_fields() -> None:
    text = GOOD.replace(
        "    depende_de: primero\n", "    depende_de: primero\n    solucion_comandos: ls\n"
    )
    [problem] = problems_of(text)
    assert "solucion_comandos" in problem


def test_it_reports_a_non_list() -> None:
    assert [str(p) for p in validate({"ejercicios": {"id": "x"}})] == [
        "ejercicios: debe ser una lista de ejercicios (cada uno empieza con «- id: ...»)"
    ]


def test_without_the_yaml_text_problems_have_no_line() -> None:
    front = yaml.safe_load(GOOD.replace("tipo: comando", "tipo: comandos"))
    [problem] = validate(front)
    assert problem.line is None
    assert str(problem).startswith("ejercicios[1].comprobaciones[1].tipo:")
