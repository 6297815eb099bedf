"""A lesson's YAML front matter: split it from the body, parse it safely, check every field.

YAML 1.1 (PyYAML) has traps an instructor falls into without noticing: `nivel: no` is the boolean
false, `orden: 0123` is the octal number 83, `duracion: 1:30` is 90 (base 60), a repeated key
silently wins, and a few aliases can expand into billions of nodes. FrontMatterLoader refuses
duplicate keys and alias bombs; `read()` then looks at the raw scalars to explain the other traps
with the line they are on.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

DELIMITER = "---"
MAX_FRONT_MATTER_CHARS = 64 * 1024
# Sum of the sizes of every node once aliases are expanded: sane front matter stays far below.
MAX_EXPANDED_NODES = 10_000
MAX_ALIASES = 100

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SLUG_MAX_LENGTH = 80
LEVELS = ("básico", "intermedio", "avanzado")
DURATION_RANGE = (1, 600)  # minutes
ORDER_RANGE = (1, 9999)

REQUIRED_KEYS = ("titulo", "slug", "orden", "resumen", "nivel", "duracion", "objetivos")
# Keys other features read (`ejercicios`: the exercises app, docs/exercises.md): no warning.
KNOWN_OPTIONAL_KEYS = ("ejercicios",)

_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_TRUE_FALSE = {"true", "false"}
_OCTAL = re.compile(r"[-+]?0[0-7_]+")
_SEXAGESIMAL = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+")


# --- The loader ----------------------------------------------------------------------------------


class FrontMatterError(yaml.MarkedYAMLError):
    """Refused by FrontMatterLoader (duplicate key, alias bomb); `problem_mark` has the line."""


class FrontMatterLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and limits aliases and their expansion."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_count = 0
        self._expanded: dict[int, int] = {}
        self.root: Node | None = None
        # 0-based line (within the YAML text) of each key of the top-level mapping.
        self.key_lines: dict[Any, int] = {}

    def compose_document(self) -> Node | None:  # type: ignore[override]
        self.root = super().compose_document()
        return self.root

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """A value PyYAML's constructors cannot build fails with a plain Python error and no
        line (`!!int` or `!!timestamp` with nothing after it: IndexError, AttributeError; a
        date that does not exist, `!!int hola`: ValueError). Every scalar is built here, so
        such an error becomes a FrontMatterError on the value's own line, said by its tag (not
        from the error's text, which holds the instructor's own value)."""
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, RecursionError):
            raise
        except Exception as exc:
            if not isinstance(node, ScalarNode):
                raise
            raise FrontMatterError(
                problem=_unbuildable(node), problem_mark=node.start_mark
            ) from exc

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        is_alias = self.check_event(AliasEvent)
        if is_alias:
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                raise FrontMatterError(
                    problem=_("demasiados alias YAML (más de %(max)d)") % {"max": MAX_ALIASES},
                    problem_mark=self.peek_event().start_mark,
                )
        node = super().compose_node(parent, index)
        if node is None or is_alias:
            return node
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self._expanded.get(id(child), 1) for child in node.value)
        elif isinstance(node, MappingNode):
            size += sum(
                self._expanded.get(id(k), 1) + self._expanded.get(id(v), 1) for k, v in node.value
            )
        self._expanded[id(node)] = size
        if size > MAX_EXPANDED_NODES:
            raise FrontMatterError(
                problem=_(
                    "los alias YAML se expanden a más de %(max)d elementos (¿una «bomba de alias»?)"
                )
                % {"max": MAX_EXPANDED_NODES},
                problem_mark=node.start_mark,
            )
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):
            # `!!set hola`: the base class refuses it with the value's line.
            return super().construct_mapping(node, deep=deep)
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                continue  # the base class reports unhashable keys
            if key in seen:
                raise FrontMatterError(
                    problem=_("la clave «%(key)s» está repetida (ya aparece en la línea %(line)d)")
                    % {"key": key, "line": seen[key] + 1},
                    problem_mark=key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        if node is self.root:
            self.key_lines = dict(seen)
        return super().construct_mapping(node, deep=deep)


def load(yaml_text: str) -> Any:
    """Parse YAML with FrontMatterLoader (for other code that re-reads front matter text)."""
    loader = FrontMatterLoader(yaml_text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


# --- Splitting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    yaml_text: str
    yaml_line: int  # file line of the first YAML line
    body: str
    body_line: int  # file line of the first body line


class SplitError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def split(text: str) -> Split:
    """Separate `---\\n<yaml>\\n---\\n<body>`; `text` has \\n line ends and no byte-order mark."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != DELIMITER:
        raise SplitError(
            1,
            _(
                "falta la cabecera YAML: la primera línea debe ser «---», seguida de los datos "
                "de la lección y de otra línea «---»"
            ),
        )
    for index in range(1, len(lines)):
        if lines[index].rstrip() in (DELIMITER, "..."):
            yaml_text = "\n".join(lines[1:index])
            if len(yaml_text) > MAX_FRONT_MATTER_CHARS:
                raise SplitError(
                    2,
                    _("la cabecera YAML es demasiado grande (más de %(max)d caracteres)")
                    % {"max": MAX_FRONT_MATTER_CHARS},
                )
            return Split(yaml_text, 2, "\n".join(lines[index + 1 :]), index + 2)
    raise SplitError(1, _("la cabecera YAML no se cierra: falta una línea «---» tras los datos"))


# --- Reading and checking ------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    line: int
    level: str  # "error" or "aviso"
    message: str
    blocking: bool


@dataclass
class FrontMatter:
    data: dict[str, Any] = field(default_factory=dict)
    key_lines: dict[str, int] = field(default_factory=dict)  # file line of each top-level key
    findings: list[Finding] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not any(f.blocking for f in self.findings)

    def error(self, line: int, message: str) -> None:
        self.findings.append(Finding(line, "error", message, True))

    def warn(self, line: int, message: str) -> None:
        self.findings.append(Finding(line, "aviso", message, False))


# PyYAML explains itself in English; an instructor reads Spanish. Each known problem gets a
# Spanish sentence that says what to do; anything else a neutral Spanish one (never English).
_YAML_PROBLEMS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (
        re.compile(r"'\\t'|\\t|\t"),
        gettext_lazy("hay un tabulador: YAML solo admite espacios para sangrar"),
    ),
    (
        re.compile(r"mapping values are not allowed"),
        gettext_lazy(
            "aquí sobra un «: »: si está dentro de un valor, pon ese valor entre comillas"
        ),
    ),
    (
        re.compile(r"could not find expected ':'"),
        gettext_lazy("a una línea le falta «clave: valor» (no encuentro los dos puntos)"),
    ),
    (
        re.compile(r"did not find expected key|expected <block end>"),
        gettext_lazy("la sangría no cuadra: esta línea no está alineada con las de su mismo nivel"),
    ),
    (
        re.compile(r"did not find expected '-' indicator"),
        gettext_lazy(
            "la sangría de la lista no cuadra: cada elemento empieza con «- » a la misma altura"
        ),
    ),
    (
        re.compile(r"found undefined alias"),
        gettext_lazy("se usa un alias (*nombre) que no está definido"),
    ),
    (
        re.compile(r"found unexpected end of stream|found end of stream"),
        gettext_lazy("la cabecera termina antes de tiempo: ¿falta cerrar unas comillas?"),
    ),
    (
        re.compile(r"found unknown escape character"),
        gettext_lazy("una barra invertida no válida entre comillas dobles: usa comillas simples"),
    ),
    (
        re.compile(r"expected ',' or '\]'|expected ',' or '}'"),
        gettext_lazy("falta cerrar una lista «[ ]» o un mapa «{ }», o falta una coma"),
    ),
    (
        re.compile(r"found character '(.)' that cannot start any token"),
        gettext_lazy(
            "el carácter «%(char)s» no puede empezar un valor: pon el valor entre comillas"
        ),
    ),
    (
        re.compile(r"could not determine a constructor"),
        gettext_lazy(
            "etiqueta YAML no admitida (lo que empieza por «!»): pon el valor entre comillas"
        ),
    ),
    (
        re.compile(r"found duplicate anchor|found undefined tag handle"),
        gettext_lazy(
            "un ancla o una etiqueta YAML («&», «!») mal escrita: pon el valor entre comillas"
        ),
    ),
)


def _describe_yaml_error(exc: BaseException) -> str:
    if isinstance(exc, FrontMatterError):
        return str(exc.problem)
    problem = str(getattr(exc, "problem", None) or exc)
    for pattern, sentence in _YAML_PROBLEMS:
        match = pattern.search(problem)
        if match:
            text = str(sentence)
            if match.groups():
                text = text % {"char": match.group(1)}
            return _("YAML no válido: %(problem)s") % {"problem": text}
    if isinstance(exc, ValueError):
        return _(
            "YAML no válido: un valor no se puede leer (¿una fecha u hora mal escrita?); "
            "pon ese valor entre comillas"
        )
    return _("YAML no válido en esta línea: revisa las comillas, los «: » y la sangría")


# The node's properties as written: an anchor, then a tag (or the tag first).
_WRITTEN_TAG = re.compile(r"(?:&\S+\s+)?!")


def _unbuildable(node: ScalarNode) -> str:
    if node.tag == "tag:yaml.org,2002:timestamp":
        return _(
            "YAML no válido: una fecha u hora que no existe o está mal escrita; pon ese valor "
            "entre comillas"
        )
    mark = node.start_mark
    written = mark.buffer is not None and _WRITTEN_TAG.match(mark.buffer, mark.pointer)
    if not written:
        # YAML took it for a number by its look (`0x_`): there is no tag to take away.
        return _(
            "YAML no válido: un valor que parece un número no se puede leer; pon ese valor "
            "entre comillas"
        )
    shown = "!!" + node.tag.removeprefix("tag:yaml.org,2002:")
    return _(
        "YAML no válido: el valor con la etiqueta «%(tag)s» está vacío o no se puede leer; "
        "quita la etiqueta o escribe el valor"
    ) % {"tag": shown}


def _walk(node: Node, visited: set[int] | None = None) -> Iterator[Node]:
    """Every node once, aliases included only once (no exponential walk over an alias bomb)."""
    visited = set() if visited is None else visited
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in visited:
            continue
        visited.add(id(current))
        yield current
        if isinstance(current, SequenceNode):
            stack.extend(reversed(current.value))
        elif isinstance(current, MappingNode):
            for key, value in reversed(current.value):
                stack.extend((value, key))


def _plain(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.style is None


def _scalar_trap(node: Node) -> str | None:
    """Explains a plain scalar YAML 1.1 reads as something else than it looks like."""
    if not _plain(node):
        return None
    raw = node.value
    if node.tag == _BOOL_TAG and raw.lower() not in _TRUE_FALSE:
        value = "true" if raw.lower() in ("yes", "y", "on") else "false"
        return _(
            "«%(raw)s» se lee como el booleano %(value)s, no como texto; si es texto, ponlo entre "
            'comillas: "%(raw)s"'
        ) % {"raw": raw, "value": value}
    if node.tag == _INT_TAG:
        if _OCTAL.fullmatch(raw) and raw.lstrip("+-") not in ("0",) and "_" not in raw:
            return _(
                "«%(raw)s» se lee como un número octal (vale %(value)d): quita el cero inicial "
                "o ponlo entre comillas"
            ) % {"raw": raw, "value": int(raw.replace("_", ""), 8)}
        if _SEXAGESIMAL.fullmatch(raw):
            return _(
                "«%(raw)s» se lee en base 60 (vale %(value)d): escribe un solo número o ponlo "
                "entre comillas"
            ) % {"raw": raw, "value": yaml.safe_load(raw)}
        if raw.lower().startswith(("0x", "0b", "0o", "+0x", "-0x")):
            return _("«%(raw)s» no está en decimal: escribe el número en base 10") % {"raw": raw}
    return None


def _what_it_is(value: Any) -> str:
    if value is None:
        return _("está vacío")
    if isinstance(value, bool):
        return _("es un booleano (%(value)s)") % {"value": str(value).lower()}
    if isinstance(value, int):
        return _("es un número (%(value)s)") % {"value": value}
    if isinstance(value, float):
        return _("es un número decimal (%(value)s)") % {"value": value}
    if isinstance(value, datetime.date):
        return _("se lee como una fecha (%(value)s)") % {"value": value.isoformat()}
    if isinstance(value, list):
        return _("es una lista")
    if isinstance(value, dict):
        return _("es un diccionario (clave: valor)")
    if isinstance(value, str):
        return _("es un texto («%(value)s»)") % {"value": value}
    return type(value).__name__


def _normalize_key(key: str) -> str:
    decomposed = unicodedata.normalize("NFKD", key.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _Checker:
    def __init__(
        self, result: FrontMatter, nodes: dict[str, tuple[Node, Node]], first_line: int
    ) -> None:
        self.result = result
        self.nodes = nodes
        self.first_line = first_line

    def line(self, key: str) -> int:
        return self.result.key_lines.get(key, self.first_line)

    def node_line(self, node: Node) -> int:
        return self.first_line + node.start_mark.line

    def wrong_type(self, key: str, node: Node, value: Any, expected: str) -> None:
        trap = _scalar_trap(node)
        if trap:
            self.result.error(self.node_line(node), f"«{key}»: {trap}")
            return
        self.result.error(
            self.node_line(node),
            _("«%(key)s» debe ser %(expected)s, pero %(actual)s")
            % {"key": key, "expected": expected, "actual": _what_it_is(value)},
        )

    def text(self, key: str, value: Any, node: Node) -> bool:
        if not isinstance(value, str):
            self.wrong_type(key, node, value, _("un texto"))
            return False
        if not value.strip():
            self.result.error(self.node_line(node), _("«%(key)s» está vacío") % {"key": key})
            return False
        return True

    def integer(self, key: str, value: Any, node: Node, low: int, high: int, unit: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            expected = _("un número entero") + (f" ({unit})" if unit else "")
            if isinstance(value, str) and re.fullmatch(r"0\d+", value.strip()):
                self.result.error(
                    self.node_line(node),
                    _(
                        "«%(key)s»: «%(raw)s» se lee como texto por el cero inicial (8 y 9 no son "
                        "octales): quita el cero"
                    )
                    % {"key": key, "raw": value},
                )
                return
            if isinstance(value, str) and re.match(r"\s*\d+\s*\D", value):
                self.result.error(
                    self.node_line(node),
                    _("«%(key)s» debe ser solo un número entero%(unit)s, sin texto: no «%(raw)s»")
                    % {"key": key, "raw": value, "unit": f" ({unit})" if unit else ""},
                )
                return
            self.wrong_type(key, node, value, expected)
            return
        trap = _scalar_trap(node)
        if trap:
            self.result.error(self.node_line(node), f"«{key}»: {trap}")
            return
        if not low <= value <= high:
            self.result.error(
                self.node_line(node),
                _("«%(key)s» debe estar entre %(low)d y %(high)d, y vale %(value)d")
                % {"key": key, "low": low, "high": high, "value": value},
            )

    def check(self) -> None:
        data = self.result.data
        missing = [key for key in REQUIRED_KEYS if key not in data]
        for key in missing:
            similar = [k for k in data if isinstance(k, str) and _normalize_key(k) == key]
            hint = (
                _(" (hay una clave «%(similar)s»: las claves se escriben sin tildes)")
                % {"similar": similar[0]}
                if similar
                else ""
            )
            self.result.error(
                self.result.key_lines.get(similar[0], 1) if similar else 1,
                _("falta la clave obligatoria «%(key)s»") % {"key": key} + hint,
            )

        for key in ("titulo", "resumen"):
            if key in self.nodes:
                self.text(key, data[key], self.nodes[key][1])

        if "slug" in self.nodes:
            node = self.nodes["slug"][1]
            slug = data["slug"]
            if self.text("slug", slug, node) and (
                not SLUG_PATTERN.fullmatch(slug) or len(slug) > SLUG_MAX_LENGTH
            ):
                self.result.error(
                    self.node_line(node),
                    _(
                        "el slug «%(slug)s» solo puede tener minúsculas sin tilde, números y "
                        "guiones sueltos (como «tu-primer-contenedor»), hasta %(max)d caracteres"
                    )
                    % {"slug": slug, "max": SLUG_MAX_LENGTH},
                )

        if "orden" in self.nodes:
            self.integer("orden", data["orden"], self.nodes["orden"][1], *ORDER_RANGE, unit="")
        if "duracion" in self.nodes:
            self.integer(
                "duracion",
                data["duracion"],
                self.nodes["duracion"][1],
                *DURATION_RANGE,
                unit=_("minutos"),
            )

        if "nivel" in self.nodes:
            node = self.nodes["nivel"][1]
            level = data["nivel"]
            if self.text("nivel", level, node) and level not in LEVELS:
                options = ", ".join(f"«{option}»" for option in LEVELS)
                close = [o for o in LEVELS if _normalize_key(o) == _normalize_key(level)]
                hint = _(" (escribe «%(level)s»)") % {"level": close[0]} if close else ""
                self.result.error(
                    self.node_line(node),
                    _("«nivel» debe ser uno de %(options)s, no «%(level)s»")
                    % {"options": options, "level": level}
                    + hint,
                )

        if "objetivos" in self.nodes:
            self.objectives(data["objetivos"], self.nodes["objetivos"][1])

        known = set(REQUIRED_KEYS) | set(KNOWN_OPTIONAL_KEYS)
        for key in data:
            if key in known:
                continue
            if not isinstance(key, str):
                self.result.warn(
                    1,
                    _("la clave «%(key)r» no es un texto; Muelle no la usa") % {"key": key},
                )
                continue
            close = difflib.get_close_matches(_normalize_key(key), sorted(known), n=1)
            hint = _(" (¿querías decir «%(key)s»?)") % {"key": close[0]} if close else ""
            self.result.warn(
                self.line(key),
                _("clave desconocida «%(key)s»: se conserva, pero Muelle no la usa") % {"key": key}
                + hint,
            )

    def objectives(self, value: Any, node: Node) -> None:
        if not isinstance(value, list):
            if isinstance(value, str) and value.strip():
                self.result.error(
                    self.node_line(node),
                    _("«objetivos» debe ser una lista: escribe cada objetivo en su línea con «- »"),
                )
            else:
                self.wrong_type("objetivos", node, value, _("una lista de textos"))
            return
        if not value:
            self.result.error(
                self.node_line(node), _("«objetivos» está vacío: escribe al menos uno")
            )
            return
        assert isinstance(node, SequenceNode)
        for item, item_node in zip(value, node.value, strict=True):
            self.text("objetivos", item, item_node)


# What read() found for each front matter text it was given. The result depends on the text,
# its first line and the language of the messages (and, for absurdly deep nesting, on how deep
# the caller's stack already is), so the same text is not parsed twice in a process: composing
# YAML in Python is most of reading a lesson (about 0.4 s of CPU for this course), and the
# catalog is read again from scratch whenever its caches are emptied (lessons.catalog.
# clear_caches; the tests do it before every page they compare). The least recently used go
# first, past a few courses' worth of texts.
READ_MEMO_SIZE = 256


def read(yaml_text: str, first_line: int) -> FrontMatter:
    """Parse and check front matter; findings carry file lines (YAML starts at `first_line`).
    Each caller gets its own copy: the data is a plain dict that callers may change."""
    return copy.deepcopy(_remembered(yaml_text, first_line, get_language() or ""))


def forget_reads() -> None:
    """Empties the memo (tests and bench/catalog_read.py, to read as a new process would)."""
    _remembered.cache_clear()


@functools.lru_cache(maxsize=READ_MEMO_SIZE)
def _remembered(yaml_text: str, first_line: int, language: str) -> FrontMatter:
    # `language` is only part of the key: _read translates its messages into the active one.
    return _read(yaml_text, first_line)


# What PyYAML's reader refuses (its NON_PRINTABLE, before any parsing: the error came out in
# English at line 1), and the Unicode line breaks it counts as new lines where no editor shows
# one (every line number after them was off).
_UNREADABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\x85\u2028\u2029]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def unreadable_character(text: str, first_line: int, where: str) -> tuple[int, str] | None:
    """The line of the first character YAML would refuse or miscount in `text`, and what to do
    about it; `where` names the text in the message («la cabecera», «el glosario»)."""
    found = _UNREADABLE.search(text)
    if found is None:
        return None
    line = first_line + text.count("\n", 0, found.start())
    code = f"U+{ord(found.group()):04X}"
    if found.group() in "\x85\u2028\u2029":
        return line, _(
            "%(where)s lleva un salto de línea de Unicode (%(code)s) que los editores no "
            "muestran: bórralo o cámbialo por un salto de línea normal"
        ) % {"where": where, "code": code}
    return line, _("%(where)s lleva un carácter de control invisible (%(code)s): bórralo") % {
        "where": where,
        "code": code,
    }


def lone_surrogate(root: Node | None, first_line: int) -> tuple[int, str] | None:
    """The line of the first value holding a lone surrogate («"\\ud800"» in a double-quoted
    value; `root` was composed from text starting at `first_line`), and what to do about it: no
    page can be written with it (every page showing it was a 500)."""
    if root is None:
        return None
    for node in _walk(root):
        if isinstance(node, ScalarNode) and _SURROGATE.search(node.value):
            return first_line + node.start_mark.line, _(
                "un valor lleva un código de Unicode que no es ningún carácter (una mitad de un "
                "par sustituto, como \\ud800): bórralo"
            )
    return None


def _read(yaml_text: str, first_line: int) -> FrontMatter:
    result = FrontMatter()
    unreadable = unreadable_character(yaml_text, first_line, _("la cabecera"))
    if unreadable is not None:
        result.error(*unreadable)
        return result
    loader = FrontMatterLoader(yaml_text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = first_line + (mark.line if mark else 0)
            result.error(line, _describe_yaml_error(exc))
            return result
        except yaml.YAMLError as exc:
            result.error(first_line, _describe_yaml_error(exc))
            return result
        except RecursionError:
            result.error(first_line, _("la cabecera YAML está anidada a demasiada profundidad"))
            return result

        if root is None:
            result.error(first_line, _("la cabecera YAML está vacía"))
            return result
        if not isinstance(root, MappingNode):
            result.error(
                first_line + root.start_mark.line,
                _("la cabecera YAML debe ser una lista de «clave: valor»"),
            )
            return result

        surrogate = lone_surrogate(root, first_line)
        if surrogate is not None:
            result.error(*surrogate)
            return result
        duplicates = False
        for node in _walk(root):
            if not isinstance(node, MappingNode):
                continue
            seen: dict[str, int] = {}
            for key_node, _value in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                key_line = first_line + key_node.start_mark.line
                if key_node.value in seen:
                    duplicates = True
                    result.error(
                        key_line,
                        _("la clave «%(key)s» está repetida (ya aparece en la línea %(line)d)")
                        % {"key": key_node.value, "line": seen[key_node.value]},
                    )
                else:
                    seen[key_node.value] = key_line
        if duplicates:
            return result

        try:
            data = loader.construct_document(root)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            result.error(first_line + (mark.line if mark else 0), _describe_yaml_error(exc))
            return result
        except (yaml.YAMLError, RecursionError, TypeError, ValueError) as exc:
            result.error(first_line, _describe_yaml_error(exc))
            return result
    finally:
        loader.dispose()

    if not isinstance(data, dict):  # a top-level merge of something odd
        result.error(first_line, _("la cabecera YAML debe ser una lista de «clave: valor»"))
        return result
    result.data = data
    result.key_lines = {
        key: first_line + line for key, line in loader.key_lines.items() if isinstance(key, str)
    }
    nodes: dict[str, tuple[Node, Node]] = {}
    for key_node, value_node in root.value:
        if not isinstance(key_node, ScalarNode):
            continue
        if key_node.tag == "tag:yaml.org,2002:str":
            nodes[key_node.value] = (key_node, value_node)
        elif _scalar_trap(key_node):
            result.warn(
                first_line + key_node.start_mark.line,
                _("en la clave, %(trap)s") % {"trap": _scalar_trap(key_node)},
            )

    _Checker(result, nodes, first_line).check()

    # YAML traps outside the fields checked above (e.g. inside `ejercicios`) are only warnings:
    # the feature that reads them decides what is valid.
    checked = {id(nodes[key][1]) for key in REQUIRED_KEYS if key in nodes}
    checked |= {
        id(item) for item in getattr(nodes.get("objetivos", (None, None))[1], "value", []) or []
    }
    for node in _walk(root):
        if id(node) in checked or not isinstance(node, ScalarNode):
            continue
        trap = _scalar_trap(node)
        if trap and not any(node is k for k, _v in root.value):
            result.warn(first_line + node.start_mark.line, trap)
    return result
