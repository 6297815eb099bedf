"""The tar a student sends with `docker cp` (PUT /containers/{id}/archive), read as the engine
will read it, checked, and written again by the gateway.

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

import io
import posixpath
import re
import tarfile

from django.utils.translation import gettext as _

from .errors import bad_request, refused

MAX_COPY_ARCHIVE = 64 * 1024 * 1024
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


def _refuse(message: str, name: str) -> Exception:
    return refused(message % {"name": name})


def canonical(data: bytes) -> bytes:
    """The checked archive the gateway sends instead of the student's bytes."""
    try:
        source = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    except tarfile.TarError:
        raise bad_request(
            _("El archivo de docker cp no es un tar válido (sin comprimir).")
        ) from None
    out = io.BytesIO()
    seen: dict[str, str] = {}  # cleaned name -> kind
    with source, tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as target:
        try:
            for member in source:
                _copy_member(source, target, member, seen)
        except (tarfile.TarError, UnicodeError, ValueError, OSError, EOFError):
            raise bad_request(_("El archivo de docker cp no es un tar válido.")) from None
    return out.getvalue()


def _copy_member(
    source: tarfile.TarFile,
    target: tarfile.TarFile,
    member: tarfile.TarInfo,
    seen: dict[str, str],
) -> None:
    raw_name = member.name
    if _CONTROL.search(raw_name) or _CONTROL.search(member.linkname) or not _is_utf8(raw_name):
        raise bad_request(_("Nombre no válido en el archivo de docker cp: %r.") % raw_name)
    kind = _KINDS.get(member.type)
    if member.type in (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE):
        raise _refuse(
            _(
                "docker cp no puede crear dispositivos ni tuberías con nombre en Muelle "
                "(«%(name)s»)."
            ),
            raw_name,
        )
    if kind is None or member.sparse is not None:
        raise _refuse(
            _("Tipo de fichero no admitido por docker cp en Muelle: «%(name)s»."), raw_name
        )
    name = go_clean(raw_name)
    if _climbs_out(name):
        raise _refuse(_("«%(name)s» queda fuera de la carpeta de destino de docker cp."), raw_name)
    if name in seen:
        raise _refuse(_("«%(name)s» aparece dos veces en el archivo de docker cp."), raw_name)
    parent = name
    while (parent := posixpath.dirname(parent)) not in ("", "."):
        if seen.get(parent) == "symlink":
            raise _refuse(
                _("«%(name)s» está dentro de un enlace simbólico del mismo archivo de docker cp."),
                raw_name,
            )
    if name == "." and kind != "dir":
        raise _refuse(_("«%(name)s» no es un nombre de fichero válido para docker cp."), raw_name)
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
                _("El enlace «%(name)s» apunta fuera de la carpeta de destino de docker cp."),
                raw_name,
            )
        info.linkname = member.linkname
    elif kind == "link":
        link = go_clean(member.linkname)
        if seen.get(link) != "file":
            raise _refuse(
                _(
                    "El enlace duro «%(name)s» debe apuntar a un fichero anterior del mismo "
                    "archivo de docker cp."
                ),
                raw_name,
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
