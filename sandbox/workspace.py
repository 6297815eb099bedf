"""The student's files, for the workspace editor: list, read, write, create, rename, delete.

Everything happens inside the student's own container through engine.run: one fixed POSIX shell
script (SCRIPT), run as the sandbox user, with the student's paths as *arguments* (never spliced
into shell code) and a file's content on stdin. Nothing here touches a host path, and nothing
runs as root in the container: Docker's archive API extracts as root and follows symlinks inside
the container, which would let a planted link make the editor write /etc/passwd.

Paths are checked twice: here (relative to the home, no `..`, no control characters) and in the
container, where `realpath` resolves symlinks and the result must stay under the home.

A file's version is the SHA-256 of its bytes. A save names the version it was based on; the
script compares it with the file as it is now and refuses (Stale, HTTP 409) when the terminal
changed it meanwhile: the editor then asks whether to reload or overwrite.
"""

from __future__ import annotations

import hashlib
import posixpath
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from sandbox import engine

MAX_FILE_BYTES = 1024 * 1024
MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255
TREE_DEPTH = 6
TREE_ENTRIES = 500
# Folders listed but never walked into: they hold thousands of files nobody edits by hand.
TREE_SKIPPED = (".cache", ".git", "node_modules", "__pycache__", ".venv")
RUN_TIMEOUT = 10.0
# A version the editor sends to overwrite whatever the file holds now.
OVERWRITE = "*"

# Exit codes of SCRIPT.
_STALE = 9
_MISSING = 10
_OUTSIDE = 11
_NOT_A_FILE = 12
_TOO_BIG = 13
_EXISTS = 14
_NOT_A_FOLDER = 15
_WRITE_FAILED = 20
_NO_SPACE = 21
_DENIED = 22

# $1 home, $2 operation, then the operation's arguments (paths relative to the home).
SCRIPT = r"""
home=$1; op=$2; shift 2
under() { case "$1" in "$home"/*) return 0;; esac; return 1; }
at_or_under() { [ "$1" = "$home" ] || under "$1"; }
# A write that failed, by what the tool said: the disk full, permission (a folder the student
# made read-only), a file where a folder should be, or anything else.
failed() {
  case "$1" in
    *"No space"*|*"quota"*) exit 21;;
    *"ermission denied"*|*"not permitted"*|*"Read-only file system"*) exit 22;;
    *"Not a directory"*|*"File exists"*) exit 15;;
  esac
  exit 20
}
# (Builtins where they do: every process spawned here is part of each save's latency.)
digest() { set -- $(sha256sum < "$1"); printf '%s' "$1"; }
# The entry itself (not what a symlink points to): its real parent folder and its name.
entry() {
  parent=$(realpath -e -- "$home/$(dirname -- "$1")" 2>/dev/null) || exit 10
  at_or_under "$parent" || exit 11
  [ -d "$parent" ] || exit 15
  e="$parent/$(basename -- "$1")"
}
case "$op" in
read)
  p=$(realpath -e -- "$home/$1" 2>/dev/null) || exit 10
  under "$p" || exit 11
  [ -f "$p" ] || exit 12
  [ "$(stat -c %s -- "$p")" -le "$2" ] || exit 13
  exec head -c "$(($2 + 1))" -- "$p" 2>/dev/null
  ;;
write)
  # $1 path, $2 base version ("" for a new file, "*" to overwrite); content on stdin.
  p=$(realpath -m -- "$home/$1" 2>/dev/null) || exit 10
  under "$p" || exit 11
  [ -d "$p" ] && exit 12
  if [ "$2" != "*" ]; then
    now=""
    if [ -e "$p" ]; then
      [ -f "$p" ] || exit 12
      now=$(digest "$p")
    fi
    if [ "$now" != "$2" ]; then printf '%s' "$now"; exit 9; fi
  fi
  dir=${p%/*}
  if [ ! -d "$dir" ]; then
    [ -e "$dir" ] && exit 15
    err=$(mkdir -p -- "$dir" 2>&1) || failed "$err"
  fi
  tmp=$(mktemp -- "$dir/.muelle-XXXXXX" 2>&1) || failed "$tmp"
  if ! err=$(cat 2>&1 >"$tmp"); then
    rm -f -- "$tmp"
    failed "$err"
  fi
  if [ -f "$p" ]; then chmod --reference="$p" -- "$tmp"; else chmod 0644 -- "$tmp"; fi
  err=$(mv -f -- "$tmp" "$p" 2>&1) || { rm -f -- "$tmp"; failed "$err"; }
  ;;
mkdir)
  p=$(realpath -m -- "$home/$1" 2>/dev/null) || exit 10
  under "$p" || exit 11
  [ -e "$p" ] && exit 14
  err=$(mkdir -p -- "$p" 2>&1) || failed "$err"
  ;;
rename)
  entry "$1"; from=$e
  [ -e "$from" ] || [ -L "$from" ] || exit 10
  entry "$2"; to=$e
  [ -e "$to" ] || [ -L "$to" ] && exit 14
  err=$(mv -T -- "$from" "$to" 2>&1) || failed "$err"
  ;;
delete)
  entry "$1"
  [ -e "$e" ] || [ -L "$e" ] || exit 10
  err=$(rm -rf -- "$e" 2>&1) || failed "$err"
  ;;
esac
"""


class WorkspaceError(Exception):
    """A refusal the editor shows as is: `message` is Spanish, `status` the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Stale(WorkspaceError):
    """The file changed since the editor read it; `version` is what it is now ("" if gone)."""

    def __init__(self, version: str) -> None:
        super().__init__(
            _("El archivo cambió en la terminal: ¿recargar o sobrescribir?"), status=409
        )
        self.version = version


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the home, "/"-separated
    kind: str  # "file", "folder", "link" or "other"
    size: int


@dataclass(frozen=True)
class Tree:
    entries: list[Entry]
    truncated: bool  # more than TREE_ENTRIES, or deeper than TREE_DEPTH was not walked


@dataclass(frozen=True)
class FileText:
    path: str
    text: str
    version: str


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def home() -> str:
    return str(settings.SANDBOX_WORKDIR).rstrip("/") or "/"


def clean_path(raw: object) -> str:
    """`raw` as a normalised path relative to the home, or WorkspaceError. Accepts `name`,
    `dir/name`, `~/name` and `/home/alumno/name`; refuses `..`, other absolute paths, control
    characters and the home itself."""
    if not isinstance(raw, str) or not raw.strip():
        raise WorkspaceError(_("Falta el nombre del archivo."))
    # As it came: spaces are part of a name (the tree lists `notas ` beside `notas`), and a
    # trimmed path was another file.
    text = raw
    if len(text) > MAX_PATH_CHARS or any(unicodedata.category(c) == "Cc" for c in text):
        raise WorkspaceError(_("Ese nombre de archivo no es válido."))
    base = home()
    if text == "~" or text.startswith("~/"):
        text = text[2:]
    elif text.startswith("/"):
        if text != base and not text.startswith(base + "/"):
            raise _outside()
        text = text[len(base) :]
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _outside()
    if not parts:
        raise WorkspaceError(_("Elige un archivo dentro de tu carpeta personal."))
    for part in parts:
        try:
            size = len(part.encode("utf-8"))
        except UnicodeEncodeError:
            raise WorkspaceError(_("Ese nombre de archivo no es válido.")) from None
        if size > MAX_NAME_BYTES:
            raise WorkspaceError(_("Ese nombre de archivo es demasiado largo."))
    return posixpath.join(*parts)


def _outside() -> WorkspaceError:
    return WorkspaceError(
        _("Solo puedes abrir archivos de tu carpeta personal (%(home)s).") % {"home": home()},
        status=403,
    )


def _too_big() -> WorkspaceError:
    return WorkspaceError(
        _("El archivo pasa de 1 MiB: es demasiado grande para el editor. Ábrelo en la terminal."),
        status=413,
    )


def _binary() -> WorkspaceError:
    return WorkspaceError(
        _("Es un archivo binario (no es texto): el editor no puede abrirlo."), status=415
    )


def _failure(code: int | None, path: str) -> WorkspaceError:
    messages = {
        _MISSING: (_("No existe «%(path)s» en tu carpeta."), 404),
        _OUTSIDE: (
            _("«%(path)s» apunta fuera de tu carpeta personal: el editor no lo abre."),
            403,
        ),
        _NOT_A_FILE: (_("«%(path)s» no es un archivo normal (¿es una carpeta?)."), 400),
        _EXISTS: (_("Ya existe «%(path)s». Elige otro nombre."), 409),
        _NOT_A_FOLDER: (_("La carpeta de «%(path)s» no existe o no es una carpeta."), 400),
        _NO_SPACE: (
            _(
                "No queda espacio en tu carpeta personal: no se ha guardado nada. Borra algún "
                "archivo grande (du -sh ~/* te dice cuáles) y vuelve a intentarlo."
            ),
            507,
        ),
        _DENIED: (
            _(
                "No tienes permiso para cambiar «%(path)s» o algo de lo que contiene: ¿está en "
                "una carpeta de solo lectura? Dale permiso de escritura en la terminal (por "
                "ejemplo, chmod -R u+w sobre esa carpeta) y vuelve a intentarlo. Si lo creó un "
                "contenedor como root, cambia su dueño desde otro contenedor (por ejemplo, "
                "docker run --rm -v ~/proyecto:/p muelle/busybox chown -R 1000:1000 /p). Si "
                "estabas borrando una carpeta, puede que una parte ya se haya borrado."
            ),
            403,
        ),
    }
    if code == _TOO_BIG:
        return _too_big()
    message, status = messages.get(
        code or 0,
        (_("No se ha podido completar la operación con «%(path)s». Vuelve a intentarlo."), 500),
    )
    return WorkspaceError(message % {"path": path}, status=status)


async def _script(
    sandbox: engine.Sandbox,
    op: str,
    *args: str,
    stdin: bytes | None = None,
    max_output: int = 4096,
) -> engine.RunResult:
    argv = ["sh", "-c", SCRIPT, "muelle-workspace", home(), op, *args]
    result = await engine.run(
        sandbox, argv, timeout=RUN_TIMEOUT, max_output=max_output, stdin=stdin
    )
    if result.timed_out:
        raise WorkspaceError(
            _("Tu contenedor ha tardado demasiado en responder. Vuelve a intentarlo."), status=504
        )
    return result


async def list_tree(sandbox: engine.Sandbox) -> Tree:
    skipped: list[str] = []
    for name in TREE_SKIPPED:
        skipped += ["-name", name, "-o"]
    argv = [
        "find", home(), "-mindepth", "1", "-maxdepth", str(TREE_DEPTH),
        "(", "-type", "d", "(", *skipped[:-1], ")", "-prune", "-o", "-true", ")",
        "-printf", r"%y\t%s\t%P\0",
    ]  # fmt: skip
    result = await engine.run(sandbox, argv, timeout=RUN_TIMEOUT, max_output=TREE_ENTRIES * 300)
    kinds = {"f": "file", "d": "folder", "l": "link"}
    entries: list[Entry] = []
    records = result.output.split(b"\0")
    if not result.output.endswith(b"\0"):
        records = records[:-1]  # cut off mid-record by the output cap (or find's own errors)
    for record in records:
        fields = record.split(b"\t", 2)
        if len(fields) != 3 or not fields[2]:
            continue
        try:
            path = fields[2].decode("utf-8")
            size = int(fields[1])
        except (UnicodeDecodeError, ValueError):
            continue  # a name the browser could not send back
        if any(unicodedata.category(c) == "Cc" for c in path):
            continue
        entries.append(Entry(path, kinds.get(fields[0].decode("ascii", "replace"), "other"), size))
    entries.sort(key=lambda e: e.path.split("/"))
    truncated = result.truncated or len(entries) > TREE_ENTRIES
    return Tree(entries[:TREE_ENTRIES], truncated)


def decode_text(data: bytes) -> str:
    if b"\0" in data:
        raise _binary()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _binary() from None


async def read_file(sandbox: engine.Sandbox, raw_path: object) -> FileText:
    path = clean_path(raw_path)
    result = await _script(
        sandbox, "read", path, str(MAX_FILE_BYTES), max_output=MAX_FILE_BYTES + 1
    )
    if result.truncated or (result.exit_code == 0 and len(result.output) > MAX_FILE_BYTES):
        raise _too_big()  # it grew between the size check and the read
    if result.exit_code != 0:
        raise _failure(result.exit_code, path)
    return FileText(path, decode_text(result.output), version_of(result.output))


def encode_text(text: object) -> bytes:
    if not isinstance(text, str):
        raise WorkspaceError(_("Falta el contenido del archivo."))
    if "\0" in text:
        raise _binary()
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise WorkspaceError(_("El texto tiene caracteres que no son válidos.")) from None
    if len(data) > MAX_FILE_BYTES:
        raise _too_big()
    return data


async def write_file(
    sandbox: engine.Sandbox, raw_path: object, text: object, base_version: object
) -> str:
    """Saves `text`; `base_version` is the version the editor read ("" for a new file,
    OVERWRITE to replace whatever is there). Returns the new version."""
    path = clean_path(raw_path)
    data = encode_text(text)
    base = base_version if isinstance(base_version, str) else ""
    if base != OVERWRITE and base and not _is_digest(base):
        raise WorkspaceError(_("La versión del archivo no es válida."))
    result = await _script(sandbox, "write", path, base, stdin=data)
    if result.exit_code == _STALE:
        now = result.output.decode("ascii", "replace").strip()
        raise Stale(now if _is_digest(now) else "")
    if result.exit_code != 0:
        raise _failure(result.exit_code, path)
    return version_of(data)


def _is_digest(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


async def create(sandbox: engine.Sandbox, raw_path: object, *, folder: bool) -> str:
    """A new empty file or folder; refuses when something already has that name."""
    path = clean_path(raw_path)
    if folder:
        result = await _script(sandbox, "mkdir", path)
        if result.exit_code != 0:
            raise _failure(result.exit_code, path)
        return path
    try:
        await write_file(sandbox, path, "", "")
    except Stale:
        raise _failure(_EXISTS, path) from None
    return path


async def rename(sandbox: engine.Sandbox, raw_from: object, raw_to: object) -> str:
    source, target = clean_path(raw_from), clean_path(raw_to)
    if target == source or target.startswith(source + "/"):
        raise WorkspaceError(_("No puedes mover una carpeta dentro de sí misma."))
    result = await _script(sandbox, "rename", source, target)
    if result.exit_code != 0:
        # A refused permission may be either folder's: both are named.
        named = {_EXISTS: target, _DENIED: f"{source} → {target}"}
        shown = named.get(result.exit_code or 0, source)
        raise _failure(result.exit_code, shown)
    return target


async def delete(sandbox: engine.Sandbox, raw_path: object) -> None:
    path = clean_path(raw_path)
    result = await _script(sandbox, "delete", path)
    if result.exit_code != 0:
        raise _failure(result.exit_code, path)
