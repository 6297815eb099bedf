"""Exercises declared in a lesson's front matter (`ejercicios:`): validation and parsing.

Instructors write YAML (docs/exercises.md); this module lists every problem it finds, with the
file line when the YAML text is known, and turns a valid list into frozen dataclasses that
exercises.checks runs. Nothing here runs anything.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from django.utils.translation import gettext as _

from exercises import docker_spec
from exercises.docker_spec import AnswerFromDocker, StateCheck
from exercises.readonly import changing_docker_command

logger = logging.getLogger(__name__)

KEY = "ejercicios"
EXERCISE_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
ANSWER_MAX = 1000
# Taken by the lesson-level URL /ejercicios/<lesson>/reiniciar/.
RESERVED_IDS = {"reiniciar"}

EXERCISE_KEYS = {
    "id",
    "titulo",
    "enunciado",
    "comprobaciones",
    "pista",
    "solucion",
    "solucion_comandos",
    "solucion_respuesta",
    "depende_de",
}
COMMON_CHECK_KEYS = {"tipo", "ok", "error"}
CHECK_KEYS = {
    "comando": {"comando", "codigo", "salida"},
    "archivo": {"ruta", "existe", "contiene", "coincide"},
    "proceso": {"nombre"},
    # With `dato`, the expected answer is a field of a container (exercises.docker_spec).
    "respuesta": {"esperado", "patron", "comando", *docker_spec.ANSWER_KEYS},
    # Kinds that look at the student's Docker state (exercises.docker_spec).
    **docker_spec.CHECK_KEYS,
}
# Keys whose value is a regular expression (checked with re.compile), in the kinds above them.
REGEX_KEYS = {"salida", "coincide", "nombre", "patron"}
REGEX_KINDS = {"comando", "archivo", "proceso", "respuesta"}

Path = tuple[str | int, ...]


# --- The parsed form -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandCheck:
    """`comando`: an instructor command run in the sandbox; exit code and/or output regex."""

    index: int
    ok: str
    error: str
    command: str
    exit_code: int | None
    output: re.Pattern[str] | None


@dataclass(frozen=True)
class FileCheck:
    """`archivo`: a file exists (or not), optionally containing a text or matching a regex."""

    index: int
    ok: str
    error: str
    path: str
    exists: bool
    contains: str | None
    matches: re.Pattern[str] | None


@dataclass(frozen=True)
class ProcessCheck:
    """`proceso`: some process in the sandbox has a name or command line matching a regex."""

    index: int
    ok: str
    error: str
    name: re.Pattern[str]


@dataclass(frozen=True)
class AnswerCheck:
    """`respuesta`: the student's typed answer, compared in Python with a literal, a regex, the
    output of an instructor command run in the student's sandbox, or a field of one of the
    student's containers as their gateway shows it."""

    index: int
    ok: str
    error: str
    expected: str | None
    pattern: re.Pattern[str] | None
    command: str | None
    docker: AnswerFromDocker | None = None


Check = CommandCheck | FileCheck | ProcessCheck | AnswerCheck | StateCheck


@dataclass(frozen=True)
class AnswerFromCommand:
    """A reference answer computed in the sandbox (e.g. `uname -r`), for verify_solutions."""

    command: str


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    statement: str  # markdown
    checks: tuple[Check, ...]
    hint: str
    solution: str | None  # markdown
    solution_commands: tuple[str, ...]
    solution_answer: str | AnswerFromCommand | None
    depends_on: str | None

    @property
    def needs_answer(self) -> bool:
        return any(isinstance(check, AnswerCheck) for check in self.checks)

    @property
    def has_reference(self) -> bool:
        return bool(self.solution_commands) or self.solution_answer is not None


@dataclass(frozen=True)
class Problem:
    message: str
    where: str = ""
    line: int | None = None

    def __str__(self) -> str:
        prefix = _("línea %(line)d: ") % {"line": self.line} if self.line is not None else ""
        where = f"{self.where}: " if self.where else ""
        return f"{prefix}{where}{self.message}"


class InvalidExercises(ValueError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


# --- Validation ----------------------------------------------------------------------------------


def validate(
    front_matter: Mapping[str, Any], *, source: str | None = None, first_line: int = 1
) -> list[Problem]:
    """Every problem in `front_matter["ejercicios"]`; an empty list when it is fine or absent.

    `source` is the YAML text the mapping came from and `first_line` the file line where that
    text starts: with them each problem carries the line of the offending key.
    """
    try:
        return _validate(front_matter, source, first_line)
    except Exception:  # a shape no rule foresaw: a problem of the lesson, never a 500
        logger.exception("ejercicios: validación fallida")
        return [_unforeseen(source, first_line)]


def _unforeseen(source: str | None, first_line: int) -> Problem:
    line = _LineFinder(source, first_line).find((KEY,))
    return Problem(
        _(
            "no se pudieron leer los ejercicios: algún valor no tiene la forma esperada (una "
            "lista o un mapa donde va un texto, o al revés); revisa sus valores"
        ),
        KEY,
        line,
    )


def _validate(
    front_matter: Mapping[str, Any], source: str | None, first_line: int
) -> list[Problem]:
    lines = _LineFinder(source, first_line)
    problems: list[Problem] = []

    def report(path: Path, message: str) -> None:
        problems.append(Problem(message, _where(path), lines.find(path)))

    raw = front_matter.get(KEY) if isinstance(front_matter, Mapping) else None
    if raw is None:
        return problems
    if not isinstance(raw, list):
        report((KEY,), _("debe ser una lista de ejercicios (cada uno empieza con «- id: ...»)"))
        return problems

    seen: dict[str, int] = {}
    dependencies: dict[str, str] = {}
    for position, item in enumerate(raw):
        path: Path = (KEY, position)
        if not isinstance(item, Mapping):
            report(path, _("cada ejercicio debe ser un mapa con id, titulo, enunciado..."))
            continue
        _check_keys(item, EXERCISE_KEYS, path, report)
        exercise_id = item.get("id")
        if not isinstance(exercise_id, str) or not EXERCISE_ID.fullmatch(exercise_id):
            report(
                (*path, "id"),
                _("falta «id» o no es válido: usa minúsculas, números y guiones (p. ej. «kernel»)"),
            )
        elif exercise_id in RESERVED_IDS:
            report(
                (*path, "id"), _("el id «%(id)s» está reservado; elige otro") % {"id": exercise_id}
            )
        elif exercise_id in seen:
            report(
                (*path, "id"),
                _("el id «%(id)s» está repetido (ya lo usa el ejercicio %(n)d)")
                % {"id": exercise_id, "n": seen[exercise_id] + 1},
            )
        else:
            seen[exercise_id] = position
        for key in ("titulo", "enunciado", "pista"):
            _require_text(item, key, path, report)
        for key in ("solucion",):
            if key in item and not _is_text(item[key]):
                report((*path, key), _("debe ser un texto no vacío"))
        _check_solution(item, path, report)
        depends_on = item.get("depende_de")
        if depends_on is not None:
            if not isinstance(depends_on, str) or not depends_on:
                report((*path, "depende_de"), _("debe ser el id de otro ejercicio"))
            elif isinstance(exercise_id, str):
                dependencies[exercise_id] = depends_on
        _check_checks(item, path, report)

    for exercise_id, depends_on in dependencies.items():
        path = (KEY, seen[exercise_id], "depende_de")
        if depends_on not in seen:
            report(
                path,
                _("depende de «%(dep)s», que no es ningún ejercicio de esta lección")
                % {"dep": depends_on},
            )
    for cycle in _cycles(dependencies):
        first = cycle[0]
        report(
            (KEY, seen[first], "depende_de"),
            _("dependencia circular: %(cycle)s") % {"cycle": " → ".join([*cycle, first])},
        )
    return problems


def _check_keys(item: Mapping[str, Any], allowed: set[str], path: Path, report: Any) -> None:
    for key in item:
        if key not in allowed:
            report(
                (*path, key),
                _("clave desconocida «%(key)s» (se admiten: %(allowed)s)")
                % {"key": key, "allowed": ", ".join(sorted(allowed))},
            )


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _require_text(item: Mapping[str, Any], key: str, path: Path, report: Any) -> None:
    if key not in item:
        report(path, _("falta «%(key)s»") % {"key": key})
    elif not _is_text(item[key]):
        report((*path, key), _("«%(key)s» debe ser un texto no vacío") % {"key": key})


def _check_solution(item: Mapping[str, Any], path: Path, report: Any) -> None:
    commands = item.get("solucion_comandos")
    if commands is not None and (
        not isinstance(commands, list) or not all(_is_text(c) for c in commands)
    ):
        report(
            (*path, "solucion_comandos"),
            _("debe ser una lista de comandos (textos), uno por línea con «- »"),
        )
    answer = item.get("solucion_respuesta")
    if answer is not None:
        valid = _is_text(answer) or (
            isinstance(answer, Mapping)
            and set(answer) == {"comando"}
            and _is_text(answer["comando"])
        )
        if not valid:
            report(
                (*path, "solucion_respuesta"),
                _("debe ser un texto, o un mapa «comando: ...» cuya salida es la respuesta"),
            )


def _check_checks(item: Mapping[str, Any], path: Path, report: Any) -> None:
    checks = item.get("comprobaciones")
    if checks is None:
        report(path, _("falta «comprobaciones» (al menos una)"))
        return
    if not isinstance(checks, list) or not checks:
        report((*path, "comprobaciones"), _("debe ser una lista con al menos una comprobación"))
        return
    for index, check in enumerate(checks):
        check_path: Path = (*path, "comprobaciones", index)
        if not isinstance(check, Mapping):
            report(check_path, _("cada comprobación debe ser un mapa con «tipo», «ok» y «error»"))
            continue
        kind = check.get("tipo")
        if not isinstance(kind, str) or kind not in CHECK_KEYS:
            report(
                (*check_path, "tipo") if "tipo" in check else check_path,
                _("tipo de comprobación desconocido: %(kind)r (se admiten: %(kinds)s)")
                % {"kind": kind, "kinds": ", ".join(CHECK_KEYS)},
            )
            continue
        _check_keys(check, COMMON_CHECK_KEYS | CHECK_KEYS[kind], check_path, report)
        for key in ("ok", "error"):
            if key not in check:
                report(
                    check_path,
                    _("falta el mensaje «%(key)s» (lo que lee el alumno si %(when)s)")
                    % {"key": key, "when": _("acierta") if key == "ok" else _("falla")},
                )
            elif not _is_text(check[key]):
                report((*check_path, key), _("el mensaje debe ser un texto no vacío"))
        for key in REGEX_KEYS & set(check) if kind in REGEX_KINDS else ():
            value = check[key]
            if not _is_text(value):
                report((*check_path, key), _("debe ser una expresión regular (texto)"))
                continue
            try:
                re.compile(value)
            except re.error as exc:
                report(
                    (*check_path, key),
                    _("expresión regular no válida %(regex)r: %(error)s")
                    % {"regex": value, "error": exc},
                )
        _check_kind(kind, check, check_path, report)
        _check_changes_nothing(kind, check, check_path, report)


def _check_kind(kind: str, check: Mapping[str, Any], path: Path, report: Any) -> None:
    if kind in docker_spec.CHECK_KEYS:
        docker_spec.validate(kind, check, path, report)
    elif kind == "comando":
        if not _is_text(check.get("comando")):
            report(path, _("una comprobación «comando» necesita «comando» (el comando a ejecutar)"))
        code = check.get("codigo")
        if "codigo" in check and (
            isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255
        ):
            report((*path, "codigo"), _("«codigo» debe ser un número de 0 a 255"))
    elif kind == "archivo":
        if not _is_text(check.get("ruta")):
            report(path, _("una comprobación «archivo» necesita «ruta»"))
        if "existe" in check and not isinstance(check["existe"], bool):
            report((*path, "existe"), _("«existe» debe ser true o false"))
        if check.get("existe") is False and ("contiene" in check or "coincide" in check):
            report(
                path, _("si el archivo no debe existir, no puede tener «contiene» ni «coincide»")
            )
        if "contiene" in check and not _is_text(check["contiene"]):
            report((*path, "contiene"), _("«contiene» debe ser un texto no vacío"))
    elif kind == "proceso":
        if "nombre" not in check:
            report(path, _("una comprobación «proceso» necesita «nombre» (expresión regular)"))
    elif kind == "respuesta":
        given = [key for key in ("esperado", "patron", "comando", "dato") if key in check]
        if len(given) != 1:
            report(
                path,
                _(
                    "una comprobación «respuesta» necesita exactamente una de: esperado, patron o "
                    "comando (o «dato», con «contenedor»)"
                ),
            )
        for key in ("esperado", "comando"):
            if key in check and not _is_text(check[key]):
                report((*path, key), _("debe ser un texto no vacío"))
        if set(check) & docker_spec.ANSWER_KEYS:
            docker_spec.validate_answer(check, path, report)


def _check_changes_nothing(kind: str, check: Mapping[str, Any], path: Path, report: Any) -> None:
    if kind not in ("comando", "respuesta") or not isinstance(check.get("comando"), str):
        return
    found = changing_docker_command(check["comando"])
    if found:
        report(
            (*path, "comando"),
            _(
                "una comprobación solo mira, no cambia nada: «%(cmd)s» crea, cambia o borra "
                "objetos de Docker del alumno. Usa una comprobación de tipo contenedor, imagen, "
                "volumen, red o compose"
            )
            % {"cmd": found},
        )


def _cycles(dependencies: Mapping[str, str]) -> list[list[str]]:
    """Each dependency cycle once, starting at its first id in declaration order."""
    cycles: list[list[str]] = []
    done: set[str] = set()
    for start in dependencies:
        trail: list[str] = []
        node: str | None = start
        while node is not None and node not in done and node not in trail:
            trail.append(node)
            node = dependencies.get(node)
        if node is not None and node in trail:
            cycles.append(trail[trail.index(node) :])
        done.update(trail)
    return cycles


def _where(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class _LineFinder:
    """Maps a key path to its line in the YAML text (1-based file lines)."""

    def __init__(self, source: str | None, first_line: int) -> None:
        self.first_line = first_line
        self.root: yaml.Node | None = None
        if source:
            try:
                self.root = yaml.compose(source, Loader=yaml.SafeLoader)
            except yaml.YAMLError:
                self.root = None

    def find(self, path: Path) -> int | None:
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line
        for part in path:
            child = None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                for key, value in node.value:
                    if key.value == part:
                        line = key.start_mark.line
                        child = value
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part < len(node.value):
                    child = node.value[part]
                    line = child.start_mark.line
            if child is None:
                break
            node = child
        return self.first_line + line


# --- Parsing -------------------------------------------------------------------------------------


def parse(
    front_matter: Mapping[str, Any], *, source: str | None = None, first_line: int = 1
) -> list[Exercise]:
    """The lesson's exercises; raises InvalidExercises listing every problem."""
    problems = validate(front_matter, source=source, first_line=first_line)
    if problems:
        raise InvalidExercises(problems)
    try:
        return [_exercise(item) for item in front_matter.get(KEY) or []]
    except Exception as exc:  # validated, so a gap in the rules: the lesson's problem all the same
        logger.exception("ejercicios: lectura fallida")
        raise InvalidExercises([_unforeseen(source, first_line)]) from exc


def _text(value: Any) -> str:
    return str(value).strip()


def _exercise(item: Mapping[str, Any]) -> Exercise:
    answer = item.get("solucion_respuesta")
    solution_answer: str | AnswerFromCommand | None
    if isinstance(answer, Mapping):
        solution_answer = AnswerFromCommand(_text(answer["comando"]))
    else:
        solution_answer = None if answer is None else _text(answer)
    return Exercise(
        id=item["id"],
        title=_text(item["titulo"]),
        statement=_text(item["enunciado"]),
        checks=tuple(_check(i, c) for i, c in enumerate(item["comprobaciones"])),
        hint=_text(item["pista"]),
        solution=_text(item["solucion"]) if item.get("solucion") else None,
        solution_commands=tuple(_text(c) for c in item.get("solucion_comandos") or ()),
        solution_answer=solution_answer,
        depends_on=item.get("depende_de"),
    )


def _regex(value: Any) -> re.Pattern[str] | None:
    return None if value is None else re.compile(value, re.MULTILINE)


def _check(index: int, raw: Mapping[str, Any]) -> Check:
    kind, ok, error = raw["tipo"], _text(raw["ok"]), _text(raw["error"])
    if kind in docker_spec.CHECK_KEYS:
        return docker_spec.parse(kind, index, ok, error, raw)
    if kind == "comando":
        code = raw.get("codigo")
        if code is None and "salida" not in raw:
            code = 0  # a bare command must succeed
        return CommandCheck(index, ok, error, raw["comando"], code, _regex(raw.get("salida")))
    if kind == "archivo":
        return FileCheck(
            index,
            ok,
            error,
            _text(raw["ruta"]),
            raw.get("existe", True),
            raw.get("contiene"),
            _regex(raw.get("coincide")),
        )
    if kind == "proceso":
        name = _regex(raw["nombre"])
        assert name is not None
        return ProcessCheck(index, ok, error, name)
    pattern = raw.get("patron")
    return AnswerCheck(
        index,
        ok,
        error,
        _text(raw["esperado"]) if "esperado" in raw else None,
        None if pattern is None else re.compile(pattern, re.IGNORECASE),
        raw.get("comando"),
        docker_spec.parse_answer(raw) if "dato" in raw else None,
    )
