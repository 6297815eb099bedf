"""The course: every lesson under settings.LESSONS_DIR, checked, ordered and cached.

Public API for other code:

    get_catalog()  -> Catalog; iterate it for the available lessons in order
    get_lesson(slug) -> Lesson | None (available lessons only)
    lesson.front_matter  -> the whole parsed front matter (unknown keys kept, e.g. `ejercicios`)

A lesson is a `NN-nombre.md` file or a folder holding `index.md` (and its images). A lesson with
a blocking problem (unreadable front matter, not UTF-8, slug taken) stays in the catalog as
unavailable, with its problems: a broken file never hides or breaks the other lessons.

Each request stats the lesson files (a few syscalls; a lesson page only its own file and the
folder, see get_catalog_for_page); files are parsed again only when their mtime or size changed,
and the catalog is rebuilt only when something changed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from stat import S_ISREG
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from lessons import codeblocks, frontmatter, links, mojibake, rendering, scanning
from lessons.problems import Problem, error, warning
from lessons.regular_files import read_regular

logger = logging.getLogger(__name__)

INDEX_FILE = "index.md"
MAX_LESSON_BYTES = 1024 * 1024
MAX_ASSET_ENTRIES = 500  # per folder lesson, for the change signature
MAX_MOJIBAKE_LINES = 5
_LEADING_NUMBER = re.compile(r"^(\d+)")


@dataclass(frozen=True)
class Lesson:
    path: Path  # the markdown file
    folder: Path | None  # the lesson's folder (folder lessons only): its assets live there
    mtime_ns: int
    size: int
    front_matter: dict[str, Any] = field(default_factory=dict)
    front_matter_text: str = ""
    front_matter_line: int = 2  # file line of the first YAML line
    key_lines: dict[str, int] = field(default_factory=dict)
    body: str = ""
    body_line: int = 1
    problems: tuple[Problem, ...] = ()
    scan: scanning.Scan | None = None
    position: int = 0  # where it sits in the course when its own `orden` is unusable
    # `titulo` and `slug` read line by line when the YAML itself is unreadable: enough to list
    # the lesson by name and answer its URL with "not available" instead of a 404.
    salvaged: dict[str, str] = field(default_factory=dict)

    # --- what the front matter says (None or empty when it is unusable) ---
    @property
    def slug(self) -> str | None:
        value = self.front_matter.get("slug")
        return value if isinstance(value, str) and self.usable_key("slug") else None

    @property
    def title(self) -> str:
        value = self.front_matter.get("titulo")
        if isinstance(value, str) and value.strip():
            return value.strip()
        return self.salvaged.get("titulo") or self.source_name

    @property
    def order(self) -> int | None:
        value = self.front_matter.get("orden")
        if isinstance(value, int) and not isinstance(value, bool) and self.usable_key("orden"):
            return value
        return None

    @property
    def summary(self) -> str:
        value = self.front_matter.get("resumen")
        return value.strip() if isinstance(value, str) else ""

    @property
    def level(self) -> str:
        value = self.front_matter.get("nivel")
        return value if value in frontmatter.LEVELS else ""

    @property
    def duration(self) -> int | None:
        value = self.front_matter.get("duracion")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return None

    @property
    def objectives(self) -> list[str]:
        value = self.front_matter.get("objetivos")
        if isinstance(value, list):
            return [item for item in value if isinstance(item, str)]
        return []

    # --- state ---
    @property
    def source_name(self) -> str:
        return self.folder.name if self.folder is not None else self.path.name

    @property
    def available(self) -> bool:
        return self.slug is not None and not any(p.blocking for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def url(self) -> str | None:
        return links.lesson_url(self.slug) if self.slug else None

    def usable_key(self, key: str) -> bool:
        line = self.key_lines.get(key)
        return not any(p.blocking and p.line == line for p in self.problems)

    def ref(self) -> links.LessonRef:
        return links.LessonRef(slug=self.slug or "", path=self.path, folder=self.folder)


@dataclass(frozen=True)
class Catalog:
    root: Path
    entries: tuple[Lesson, ...]  # every lesson source, in course order, available or not
    problems: tuple[Problem, ...] = ()  # about the folder itself (not about one lesson)
    version: str = ""
    link_index: links.LinkIndex = field(default_factory=links.LinkIndex)

    def __iter__(self) -> Iterator[Lesson]:
        return iter(self.lessons)

    def __len__(self) -> int:
        return len(self.lessons)

    @property
    def lessons(self) -> list[Lesson]:
        return [lesson for lesson in self.entries if lesson.available]

    def find(self, slug: str) -> Lesson | None:
        """The lesson owning `slug`, available or not (pages show why it is unavailable)."""
        for lesson in self.entries:
            if lesson.slug == slug:
                return lesson
        for lesson in self.entries:
            if lesson.slug is None and lesson.salvaged.get("slug") == slug:
                return lesson
        return None

    def get(self, slug: str) -> Lesson | None:
        lesson = self.find(slug)
        return lesson if lesson is not None and lesson.available else None

    def neighbours(self, lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
        lessons = self.lessons
        for index, item in enumerate(lessons):
            if item.path == lesson.path:
                before = lessons[index - 1] if index > 0 else None
                after = lessons[index + 1] if index + 1 < len(lessons) else None
                return before, after
        return None, None

    def all_problems(self) -> list[Problem]:
        found = list(self.problems)
        for lesson in self.entries:
            found.extend(lesson.problems)
        return found


# --- Finding the sources -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    path: Path
    folder: Path | None
    mtime_ns: int
    size: int
    assets: tuple[tuple[str, int, int], ...] = ()


def _asset_signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    found: list[tuple[str, int, int]] = []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        for name in sorted(files):
            if len(found) >= MAX_ASSET_ENTRIES:
                return tuple(found)
            try:
                stat = os.stat(os.path.join(directory, name))
            except OSError:
                continue
            found.append((os.path.join(directory, name), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def _discover(root: Path) -> tuple[list[_Source], list[Problem]]:
    sources: list[_Source] = []
    problems: list[Problem] = []
    try:
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except FileNotFoundError:
        return [], [
            error(root, 1, _("no existe la carpeta de lecciones %(path)s") % {"path": root})
        ]
    except OSError as exc:
        return [], [
            error(root, 1, _("no se puede leer la carpeta de lecciones: %(e)s") % {"e": exc})
        ]
    for entry in entries:
        name = entry.name
        if name.startswith((".", "_")) or name.lower() == "readme.md":
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir():
                index = path / INDEX_FILE
                try:
                    stat = index.stat()
                except FileNotFoundError:
                    problems.append(
                        warning(
                            path,
                            1,
                            _(
                                "la carpeta no tiene %(index)s, así que no es una lección "
                                "(una lección en carpeta necesita su %(index)s)"
                            )
                            % {"index": INDEX_FILE},
                        )
                    )
                    continue
                if not S_ISREG(stat.st_mode):
                    problems.append(_not_a_file(index))
                    continue
                sources.append(
                    _Source(index, path, stat.st_mtime_ns, stat.st_size, _asset_signature(path))
                )
            elif name.lower().endswith(".md"):
                stat = entry.stat()
                if not S_ISREG(stat.st_mode):
                    problems.append(_not_a_file(path))
                    continue
                sources.append(_Source(path, None, stat.st_mtime_ns, stat.st_size))
            else:
                problems.append(
                    warning(
                        path,
                        1,
                        _(
                            "no es una lección: solo se leen archivos .md y carpetas con %(index)s "
                            "(las imágenes van dentro de la carpeta de su lección)"
                        )
                        % {"index": INDEX_FILE},
                    )
                )
        except OSError as exc:
            problems.append(error(path, 1, _("no se puede leer: %(e)s") % {"e": exc}))
    return sources, problems


def _not_a_file(path: Path) -> Problem:
    # A FIFO hung every reader of the catalog (the whole site), and a link to /dev/zero, whose
    # size reads 0, was read without end.
    return error(
        path,
        1,
        _(
            "no es un archivo normal (¿un enlace a un dispositivo, o una tubería?): una lección "
            "es un archivo .md"
        ),
    )


# --- Reading one lesson --------------------------------------------------------------------------


def _position_from_name(name: str) -> int:
    match = _LEADING_NUMBER.match(name)
    return int(match.group(1)) if match else 10**6


_SALVAGE = re.compile(r"^(titulo|slug):[ \t]*(.+?)[ \t]*$", re.MULTILINE)


def _salvage(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    head = text[: frontmatter.MAX_FRONT_MATTER_CHARS]
    for key, value in _SALVAGE.findall(head):
        value = value.strip("\"'")
        if "\ufffd" in value:  # from a file that is not UTF-8: the file name reads better
            continue
        if key == "slug" and not frontmatter.SLUG_PATTERN.fullmatch(value):
            continue
        found.setdefault(key, value)
    return found


def _undecodable(path: Path, raw: bytes, exc: UnicodeDecodeError) -> Problem:
    line = raw.count(b"\n", 0, exc.start) + 1
    byte = raw[exc.start : exc.start + 1].hex().upper()
    return error(
        path,
        line,
        _(
            "el archivo no está en UTF-8 (byte 0x%(byte)s no válido); guárdalo como UTF-8, o "
            "conviértelo con: python manage.py import_lesson %(path)s --encoding cp1252 "
            "--slug … --order …"
        )
        % {"byte": byte, "path": path.name},
        blocking=True,
    )


def _fence_problems(path: Path, scan: scanning.Scan) -> list[Problem]:
    found: list[Problem] = []
    for fence in scan.fences:
        file_word = f"{codeblocks.FILE_OPTION}="
        unknown = [
            word
            for word in fence.options
            if word not in codeblocks.OPTIONS and not word.startswith(file_word)
        ]
        file_value = fence.option_value(codeblocks.FILE_OPTION)
        if file_value is not None and codeblocks.file_option(file_value) is None:
            found.append(
                error(
                    path,
                    fence.line,
                    _(
                        "«%(option)s%(value)s» no es un archivo válido para el editor: escribe una "
                        "ruta relativa a la carpeta personal, sin «..», sin espacios ni «~» "
                        "(por ejemplo «archivo=web/index.html»)"
                    )
                    % {"option": file_word, "value": file_value},
                )
            )
        if fence.attributes or unknown:
            found.append(
                warning(
                    path,
                    fence.line,
                    _(
                        "opciones de bloque de código no reconocidas (%(options)s): para que se "
                        "pueda ejecutar, escribe «```bash %(runnable)s»"
                    )
                    % {
                        "options": " ".join([*unknown, fence.attributes]).strip(),
                        "runnable": codeblocks.RUNNABLE_OPTION,
                    },
                )
            )
        markers = {word for word in fence.options if not word.startswith(file_word)}
        markers -= {codeblocks.RUNNABLE_OPTION, *unknown}
        if markers and codeblocks.RUNNABLE_OPTION not in fence.options:
            found.append(
                warning(
                    path,
                    fence.line,
                    _(
                        "«%(marker)s» solo tiene sentido en un bloque «ejecutable»: "
                        "«```bash %(runnable)s %(marker)s»"
                    )
                    % {"marker": " ".join(sorted(markers)), "runnable": codeblocks.RUNNABLE_OPTION},
                )
            )
        if (
            codeblocks.RUNNABLE_OPTION in fence.options
            and fence.language.lower() not in codeblocks.SHELL_LANGUAGES
        ):
            found.append(
                warning(
                    path,
                    fence.line,
                    _(
                        "un bloque «%(language)s» marcado como ejecutable: la terminal ejecuta "
                        "comandos de shell"
                    )
                    % {"language": fence.language},
                )
            )
    return found


def load_lesson(source: _Source) -> Lesson:
    """Read and check one lesson on its own (the checks across lessons come later)."""
    path = source.path
    base = Lesson(
        path=path,
        folder=source.folder,
        mtime_ns=source.mtime_ns,
        size=source.size,
        position=_position_from_name(source.folder.name if source.folder else path.name),
    )
    try:
        return _load(base)
    except Exception as exc:  # a lesson must never break the catalog
        logger.exception("Could not load lesson %s", path)
        return replace(
            base,
            problems=(
                error(path, 1, _("no se pudo leer la lección: %(e)s") % {"e": exc}, blocking=True),
            ),
        )


def _too_big(path: Path) -> Problem:
    return error(
        path,
        1,
        _("la lección ocupa más de %(max)d KiB; divídela en varias")
        % {"max": MAX_LESSON_BYTES // 1024},
        blocking=True,
    )


def _load(lesson: Lesson) -> Lesson:
    path = lesson.path
    problems: list[Problem] = []
    if lesson.size > MAX_LESSON_BYTES:
        return replace(lesson, problems=(_too_big(path),))
    raw, _stat = read_regular(path, MAX_LESSON_BYTES + 1)  # one over: «too big» is told
    if len(raw) > MAX_LESSON_BYTES:  # it grew since it was listed
        return replace(lesson, size=len(raw), problems=(_too_big(path),))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return replace(
            lesson,
            problems=(_undecodable(path, raw, exc),),
            salvaged=_salvage(raw.decode("utf-8", "replace")),
        )

    if text.startswith("\ufeff"):
        problems.append(
            error(
                path,
                1,
                _(
                    "el archivo empieza con una marca de orden de bytes (BOM) antes de «---»: "
                    "guárdalo como UTF-8 sin BOM (muchas herramientas no verán la cabecera)"
                ),
            )
        )
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")

    repairs = mojibake.detect(text)
    lines_seen: list[int] = []
    for repair in repairs:
        if repair.line in lines_seen:
            continue
        lines_seen.append(repair.line)
        if len(lines_seen) > MAX_MOJIBAKE_LINES:
            break
        problems.append(
            error(
                path,
                repair.line,
                _(
                    "texto mal codificado (mojibake): «%(before)s» debería ser «%(after)s"
                    "» "
                    "(UTF-8 leído como %(encoding)s); repáralo con: python manage.py "
                    "import_lesson %(path)s --slug … --order …"
                )
                % {
                    "before": repair.shown_before,
                    "after": repair.after,
                    "encoding": repair.encoding,
                    "path": path.name,
                },
            )
        )
    extra_lines = len({r.line for r in repairs}) - MAX_MOJIBAKE_LINES
    if extra_lines > 0:
        problems.append(
            error(
                path,
                lines_seen[-1],
                _("y %(count)d líneas más con mojibake") % {"count": extra_lines},
            )
        )

    try:
        parts = frontmatter.split(text)
    except frontmatter.SplitError as exc:
        problems.append(error(path, exc.line, exc.message, blocking=True))
        return replace(lesson, problems=tuple(problems), body=text, salvaged=_salvage(text))

    parsed = frontmatter.read(parts.yaml_text, parts.yaml_line)
    for finding in parsed.findings:
        if finding.level == "error":
            problems.append(error(path, finding.line, finding.message, blocking=finding.blocking))
        else:
            problems.append(warning(path, finding.line, finding.message))

    scan = scanning.scan(parts.body, parts.body_line)
    problems.extend(_fence_problems(path, scan))
    for line in scan.headings_inside_quotes:
        problems.append(
            warning(
                path,
                line,
                _(
                    "este título va justo después de una cita («>») y Markdown lo mete dentro de "
                    "ella: deja una línea en blanco antes"
                ),
            )
        )
    return replace(
        lesson,
        salvaged={} if parsed.usable else _salvage(parts.yaml_text),
        front_matter=parsed.data,
        front_matter_text=parts.yaml_text,
        front_matter_line=parts.yaml_line,
        key_lines=parsed.key_lines,
        body=parts.body,
        body_line=parts.body_line,
        problems=tuple(problems),
        scan=scan,
    )


# --- Checks across lessons -----------------------------------------------------------------------


def _sort_key(lesson: Lesson) -> tuple[int, str]:
    order = lesson.order
    return (order if order is not None else lesson.position, lesson.source_name)


def _cross_check(lessons: list[Lesson]) -> list[Lesson]:
    lessons = sorted(lessons, key=_sort_key)
    extra: dict[Path, list[Problem]] = {lesson.path: [] for lesson in lessons}

    slug_owner: dict[str, Lesson] = {}
    order_owner: dict[int, Lesson] = {}
    for lesson in lessons:
        slug = lesson.slug
        if slug is not None:
            owner = slug_owner.setdefault(slug, lesson)
            if owner is not lesson:
                extra[lesson.path].append(
                    error(
                        lesson.path,
                        lesson.key_lines.get("slug", 1),
                        _("el slug «%(slug)s» ya lo usa %(other)s")
                        % {"slug": slug, "other": owner.path.name},
                        blocking=True,
                    )
                )
        order = lesson.order
        if order is not None:
            owner = order_owner.setdefault(order, lesson)
            if owner is not lesson:
                extra[lesson.path].append(
                    error(
                        lesson.path,
                        lesson.key_lines.get("orden", 1),
                        _("el orden %(order)d ya lo usa %(other)s")
                        % {"order": order, "other": owner.path.name},
                    )
                )

    # A lesson whose front matter is broken is still a lesson: links to it are not "broken", and
    # its own links are checked too, under the slug salvaged from its text (or its file name), so
    # a broken header never hides the problems of the body.
    refs = {lesson.path: _link_ref(lesson) for lesson in lessons}
    index = links.LinkIndex(
        [
            refs[lesson.path]
            for lesson in lessons
            if lesson.slug is None or slug_owner[lesson.slug] is lesson
        ]
    )
    by_slug = {refs[lesson.path].slug: lesson for lesson in reversed(lessons)}
    for lesson in lessons:
        if lesson.scan is None:
            continue
        for link in lesson.scan.links:
            try:
                problem = _link_problem(link, refs[lesson.path], index, by_slug)
            except Exception:  # one link must never take the whole catalog (and site) down
                logger.exception("lecciones: enlace sin comprobar en %s", lesson.path)
                problem = _("no se pudo comprobar este enlace: «%(url)s»") % {"url": link.url}
            if problem:
                extra[lesson.path].append(error(lesson.path, link.line, problem))

    result = []
    for lesson in lessons:
        problems = sorted(
            (*lesson.problems, *extra[lesson.path]), key=lambda p: (p.line, p.level != "error")
        )
        result.append(replace(lesson, problems=tuple(problems)))
    return result


def _link_problem(
    link: scanning.Link, ref: links.LessonRef, index: links.LinkIndex, by_slug: dict[str, Lesson]
) -> str | None:
    target = links.resolve(link.url, ref, index, is_image=link.is_image)
    if target.problem:
        return target.problem
    if target.fragment and target.lesson_slug in by_slug:
        return _anchor_problem(by_slug[target.lesson_slug], target.fragment)
    return None


def _link_ref(lesson: Lesson) -> links.LessonRef:
    slug = lesson.slug or lesson.salvaged.get("slug") or f"~{lesson.source_name}"
    return links.LessonRef(slug=slug, path=lesson.path, folder=lesson.folder)


_anchor_cache: dict[Path, tuple[tuple[int, int], frozenset[str]]] = {}
MAX_ANCHORS_SHOWN = 8


def _anchor_ids(lesson: Lesson) -> frozenset[str]:
    """Every id the lesson's rendered HTML has (headings above all), as the page will have it."""
    key = (lesson.mtime_ns, lesson.size)
    hit = _anchor_cache.get(lesson.path)
    if hit is not None and hit[0] == key:
        return hit[1]
    html = rendering.render_markdown(lesson.body).html
    ids = frozenset(_ID_ATTRIBUTE.findall(html))
    _anchor_cache[lesson.path] = (key, ids)
    return ids


_ID_ATTRIBUTE = re.compile(r"""\sid=["']([^"']+)["']""")


def _anchor_problem(target: Lesson, fragment: str) -> str | None:
    try:
        ids = _anchor_ids(target)
    except Exception:  # RecursionError on absurd nesting, for one: that lesson says so itself
        logger.exception("lecciones: anclas sin leer en %s", target.path)
        return _(
            "no se pudo comprobar el ancla «#%(anchor)s»: la lección «%(lesson)s» no se puede "
            "mostrar"
        ) % {"anchor": fragment, "lesson": target.source_name}
    if links.prefix_fragment(fragment) in ids:
        return None
    headings = sorted(i.removeprefix(links.ID_PREFIX) for i in ids if i.startswith(links.ID_PREFIX))
    shown = ", ".join(f"#{h}" for h in headings[:MAX_ANCHORS_SHOWN])
    if len(headings) > MAX_ANCHORS_SHOWN:
        shown += ", …"
    return _(
        "enlace roto: la lección «%(lesson)s» no tiene ningún título con el ancla «#%(anchor)s» "
        "(anclas que tiene: %(anchors)s)"
    ) % {"lesson": target.source_name, "anchor": fragment, "anchors": shown or _("ninguna")}


# --- Building and caching ------------------------------------------------------------------------

_lesson_cache: dict[Path, tuple[tuple[int, int], Lesson]] = {}
_catalog_cache: dict[Path, tuple[tuple[Any, ...], Catalog]] = {}
# When each folder was last walked in full (time.monotonic()) and its own mtime then.
_last_walk: dict[Path, tuple[float, int | None]] = {}
_lock = threading.Lock()


def _load_cached(source: _Source) -> Lesson:
    key = (source.mtime_ns, source.size)
    hit = _lesson_cache.get(source.path)
    if hit is not None and hit[0] == key and hit[1].folder == source.folder:
        return hit[1]
    lesson = load_lesson(source)
    _lesson_cache[source.path] = (key, lesson)
    return lesson


def build_catalog(root: Path, *, use_cache: bool = True) -> Catalog:
    """Read every lesson under `root` (check_lessons uses use_cache=False)."""
    root = Path(root)
    sources, problems = _discover(root)
    return _build(root, sources, problems, use_cache=use_cache)


def _signature(sources: list[_Source], problems: list[Problem]) -> tuple[Any, ...]:
    return (
        tuple((s.path, s.mtime_ns, s.size, s.assets) for s in sources),
        tuple(p.format() for p in problems),
    )


def _build(
    root: Path, sources: list[_Source], problems: list[Problem], *, use_cache: bool
) -> Catalog:
    lessons = [_load_cached(s) if use_cache else load_lesson(s) for s in sources]
    checked = _cross_check(lessons)
    version = hashlib.sha256(repr(_signature(sources, problems)).encode()).hexdigest()[:16]
    return Catalog(
        root=root,
        entries=tuple(checked),
        problems=tuple(problems),
        version=version,
        link_index=links.LinkIndex([lesson.ref() for lesson in checked if lesson.available]),
    )


def _folder_mtime(root: Path) -> int | None:
    try:
        return os.stat(root).st_mtime_ns
    except OSError:
        return None


def get_catalog() -> Catalog:
    """The catalog of settings.LESSONS_DIR, rebuilt only when a lesson file changed."""
    root = Path(settings.LESSONS_DIR)
    # Taken before the walk: a change made during it is seen by the next quick check.
    checked = (time.monotonic(), _folder_mtime(root))
    sources, problems = _discover(root)
    signature = _signature(sources, problems)
    hit = _catalog_cache.get(root)
    if hit is not None and hit[0] == signature:
        _last_walk[root] = checked
        return hit[1]
    with _lock:
        catalog = _build(root, sources, problems, use_cache=True)
        _catalog_cache[root] = (signature, catalog)
        _last_walk[root] = checked
        return catalog


def get_catalog_for_page(slug: str) -> Catalog:
    """get_catalog() for a lesson page, which every student asks for: walking the whole folder
    (a stat per lesson and per asset) each time cost a page as much as all the rest of the
    request. So each request stats only the shown lesson's file and the lessons folder itself:
    an instructor's edit of the page they are looking at, or a lesson added, removed or renamed,
    shows on the next reload. Edits inside other lessons (their titles in the course list, their
    assets) are seen by the full walk, at most LESSONS_RECHECK_SECONDS later (0: every request)."""
    root = Path(settings.LESSONS_DIR)
    interval = float(getattr(settings, "LESSONS_RECHECK_SECONDS", 0.0))
    hit = _catalog_cache.get(root)
    last = _last_walk.get(root)
    if interval <= 0 or hit is None or last is None:
        return get_catalog()
    now = time.monotonic()
    if now - last[0] >= interval:
        # This request walks; the ones arriving meanwhile keep the quick check below instead of
        # all walking at once (get_catalog records the walk when it is done).
        _last_walk[root] = (now, last[1])
        return get_catalog()
    if _folder_mtime(root) != last[1]:
        return get_catalog()
    catalog = hit[1]
    lesson = catalog.find(slug)
    if lesson is not None:
        try:
            stat = os.stat(lesson.path)
        except OSError:
            return get_catalog()
        if (stat.st_mtime_ns, stat.st_size) != (lesson.mtime_ns, lesson.size):
            return get_catalog()
    return catalog


def get_lesson(slug: str) -> Lesson | None:
    """An available lesson by slug (None when unknown or unavailable)."""
    return get_catalog().get(slug)


def clear_caches() -> None:
    with _lock:
        _lesson_cache.clear()
        _catalog_cache.clear()
        _last_walk.clear()
