"""The tar a student sends with `docker cp` (PUT /containers/{id}/archive) or `docker import`
(POST /images/create?fromSrc=-), read as the engine will read it, checked, and written again by
the gateway. (An import's tar becomes an image layer as it is: its extended attributes, such as
`trusted.overlay.*`, reached the host's layer folder, and its devices were made there.)

The engine (moby 20.10 pkg/archive, Go's archive/tar) cleans each member name with
filepath.Clean, joins it to the destination, refuses a name or a link that climbs out of it,
creates block and character devices and FIFOs with mknod, applies every extended attribute of a
member (security.capability, trusted.overlay.*...) and keeps setuid/setgid bits. Rather than
predicting how two tar readers agree on PAX records, GNU long names, sparse maps or base-256
numbers, the gateway parses the archive once and forwards a new one built only from what it
parsed and checked:

- regular files, directories, symbolic links and hard links only (no devices, FIFOs, sparse
  files);
- names cleaned like filepath.Clean; absolute names are relative to the destination (as the
  engine takes them); a name or a link that climbs out of the destination is refused, as the
  engine would, and so is a name that appears twice, a member under a symbolic link of the same
  archive, and a hard link to anything but an earlier member;
- no extended attributes or other PAX records, no setuid/setgid bits, numeric owners only.
"""

from __future__ import annotations

import errno
import io
import lzma
import posixpath
import re
import tarfile
import threading
import zlib

from django.utils.translation import gettext as _

from sandbox.token_bucket import RateLimit

from .errors import GatewayError, bad_request, refused

MAX_COPY_ARCHIVE = 64 * 1024 * 1024
# What each member of an archive the gateway rewrites counts in the student's byte rate, beside
# its bytes: the rewrite costs the web process about 50 us a member (its 512-byte header alone
# is charged as bytes), so a loop of `docker cp` of 120,000 empty files took 6 s of its time
# each, with the GIL, from every other student. At 16 KiB a member such an archive waits about a
# minute at the default rate; a project of 1,000 files, half a second.
MEMBER_COST = 16 * 1024


async def charge_members(rate: RateLimit, members: int) -> None:
    """What rewriting `members` members costs the web process, in the student's byte rate."""
    await rate.take(members * MEMBER_COST)


# What a broken compressed stream raises (bz2's errors are OSErrors already).
_BAD_STREAM = (
    tarfile.TarError,
    UnicodeError,
    ValueError,
    OSError,
    EOFError,
    lzma.LZMAError,
    zlib.error,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "link",
}


def go_clean(name: str) -> str:
    """Where filepath.Join(destination, filepath.Clean(name)) lands, relative to the destination:
    "." for the destination itself, "../..." when it climbs out. An absolute name cannot climb
    (Clean("/../x") is "/x", joined under the destination); a relative one can."""
    if name.startswith("/"):
        return posixpath.normpath(name).lstrip("/") or "."
    return posixpath.normpath(name) if name else "."


def _climbs_out(name: str) -> bool:
    return name == ".." or name.startswith("../")


def _link_target(name: str, linkname: str) -> str:
    """Where a symbolic link points, as the engine checks it: filepath.Join(Dir(path), link),
    so an absolute target is still under the destination (and under the container's root)."""
    return posixpath.normpath((posixpath.dirname(name) or ".") + "/" + linkname)


def _refuse(message: str, name: str, command: str) -> Exception:
    return refused(message % {"name": name, "command": command})


class Stopped(Exception):
    """A rewrite ended on request (canonical_file's `stop`)."""


def canonical(data: bytes) -> tuple[bytes, int]:
    """The checked archive the gateway sends instead of the student's bytes (`docker cp`), and
    how many members it has."""
    try:
        source = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    except tarfile.TarError:
        raise bad_request(
            _("El archivo de docker cp no es un tar válido (sin comprimir).")
        ) from None
    out = io.BytesIO()
    with source, tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as target:
        members = _rewrite(source, target, "docker cp")
    return out.getvalue(), members


# Members of an imported archive (a Debian file system has about 20,000): tarfile keeps each
# one in memory, about a kilobyte apiece on each side.
MAX_IMPORT_MEMBERS = 200_000
# The PAX and GNU long-name records tarfile reads whole into memory before a member.
_HEADER_RECORDS = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
MAX_HEADER_RECORD = 1024 * 1024


class _CheckedInfo(tarfile.TarInfo):
    """A header record is refused before tarfile reads it into memory (a small compressed
    archive can announce one of hundreds of MiB)."""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _HEADER_RECORDS and self.size > MAX_HEADER_RECORD:
            raise GatewayError(413, _("El archivo de docker import trae una cabecera enorme."))
        return super()._proc_member(tarfile_)  # type: ignore[misc, no-any-return]


def canonical_file(
    source_path: str, target_path: str, limit: int, stop: threading.Event | None = None
) -> int:
    """The same for `docker import`, file to file (a whole file system): the student's tar,
    plain or compressed as the engine accepts it, written again uncompressed. What it unfolds
    to (headers and files) may hold `limit` bytes, and MAX_IMPORT_MEMBERS members (a small
    compressed archive can hold terabytes of zeros); `stop` ends the rewrite between two
    members (the request was cancelled). Returns how many members it wrote."""
    try:
        source = tarfile.open(source_path, mode="r:*", tarinfo=_CheckedInfo)
    except _BAD_STREAM:
        raise bad_request(_("El archivo de docker import no es un tar válido.")) from None
    with source, tarfile.open(target_path, mode="w", format=tarfile.PAX_FORMAT) as target:
        return _rewrite(source, target, "docker import", limit, stop)


def _rewrite(
    source: tarfile.TarFile,
    target: tarfile.TarFile,
    command: str,
    limit: int | None = None,
    stop: threading.Event | None = None,
) -> int:
    seen: dict[str, str] = {}  # cleaned name -> kind
    try:
        for member in source:
            if stop is not None and stop.is_set():
                raise Stopped
            # Where this member's data ends in the uncompressed stream: headers and files so far.
            if limit is not None and member.offset_data + max(member.size, 0) > limit:
                raise GatewayError(
                    413,
                    _("El archivo de %(command)s ocupa más de %(n)d bytes sin comprimir.")
                    % {"command": command, "n": limit},
                )
            if len(seen) >= MAX_IMPORT_MEMBERS:
                raise GatewayError(
                    413,
                    _("El archivo de %(command)s tiene más de %(n)d ficheros.")
                    % {"command": command, "n": MAX_IMPORT_MEMBERS},
                )
            _copy_member(source, target, member, seen, command)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            # The server's disk, not the student's archive.
            raise GatewayError(
                507, _("El servidor no tiene sitio ahora para este archivo. Inténtalo más tarde.")
            ) from None
        raise bad_request(
            _("El archivo de %(command)s no es un tar válido.") % {"command": command}
        ) from None
    except _BAD_STREAM:
        raise bad_request(
            _("El archivo de %(command)s no es un tar válido.") % {"command": command}
        ) from None
    return len(seen)


def _copy_member(
    source: tarfile.TarFile,
    target: tarfile.TarFile,
    member: tarfile.TarInfo,
    seen: dict[str, str],
    command: str,
) -> None:
    raw_name = member.name
    if _CONTROL.search(raw_name) or _CONTROL.search(member.linkname) or not _is_utf8(raw_name):
        raise bad_request(
            _("Nombre no válido en el archivo de %(command)s: %(name)r.")
            % {"command": command, "name": raw_name}
        )
    kind = _KINDS.get(member.type)
    if member.type in (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE):
        raise _refuse(
            _(
                "%(command)s no puede crear dispositivos ni tuberías con nombre en Muelle "
                "(«%(name)s»)."
            ),
            raw_name,
            command,
        )
    if kind is None or member.sparse is not None:
        raise _refuse(
            _("Tipo de fichero no admitido por %(command)s en Muelle: «%(name)s»."),
            raw_name,
            command,
        )
    name = go_clean(raw_name)
    if _climbs_out(name):
        raise _refuse(
            _("«%(name)s» queda fuera de la carpeta de destino de %(command)s."), raw_name, command
        )
    if name in seen:
        raise _refuse(
            _("«%(name)s» aparece dos veces en el archivo de %(command)s."), raw_name, command
        )
    parent = name
    while (parent := posixpath.dirname(parent)) not in ("", "."):
        if seen.get(parent) == "symlink":
            raise _refuse(
                _(
                    "«%(name)s» está dentro de un enlace simbólico del mismo archivo de "
                    "%(command)s."
                ),
                raw_name,
                command,
            )
    if name == "." and kind != "dir":
        raise _refuse(
            _("«%(name)s» no es un nombre de fichero válido para %(command)s."), raw_name, command
        )
    info = tarfile.TarInfo(name)
    info.type = member.type if kind != "file" else tarfile.REGTYPE
    # Permissions and the sticky bit; never setuid/setgid (no-new-privileges is the sandbox's
    # rule, and a student's files do not need them).
    info.mode = member.mode & 0o1777
    info.uid, info.gid = max(member.uid, 0), max(member.gid, 0)
    info.mtime = int(member.mtime) if 0 <= member.mtime < 2**33 else 0
    if kind == "symlink":
        if _climbs_out(_link_target(name, member.linkname)):
            raise _refuse(
                _("El enlace «%(name)s» apunta fuera de la carpeta de destino de %(command)s."),
                raw_name,
                command,
            )
        info.linkname = member.linkname
    elif kind == "link":
        link = go_clean(member.linkname)
        if seen.get(link) != "file":
            raise _refuse(
                _(
                    "El enlace duro «%(name)s» debe apuntar a un fichero anterior del mismo "
                    "archivo de %(command)s."
                ),
                raw_name,
                command,
            )
        info.linkname = link
    seen[name] = kind
    if kind == "file":
        info.size = member.size
        target.addfile(info, source.extractfile(member))
    else:
        target.addfile(info)


def _is_utf8(name: str) -> bool:
    # tarfile decodes with surrogateescape: bytes that are not UTF-8 come back as surrogates.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
