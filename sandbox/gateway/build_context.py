"""A build context read the way the engine's classic builder will read it, and re-emitted.

The engine unpacks the context tar (`pkg/archive.Unpack`: every name goes through
`filepath.Clean`, a later member replaces an earlier one of the same name, writes follow
symlinked parent folders), then opens the Dockerfile by name, following symlinks inside the
context (`builder/remotecontext/detect.go`: `withDockerfileFromContext`, `FullPath`). A tar
can therefore hold one harmless `Dockerfile` for a checker and a second `x/../Dockerfile` that
the engine builds. And Python's `tarfile` and Go's `archive/tar` disagree on corner cases (PAX
global headers, for one).

So the gateway parses the tar once, refuses what could be read two ways (names that are
absolute or climb with `..`, duplicates after normalisation, members under a file or a link,
links that leave the context, device files, a Dockerfile that is a link), and sends the engine
a new plain tar written only from what it parsed, with the checked Dockerfile in it. The
engine never sees the student's bytes, so it cannot read them differently.

`.dockerignore` cannot change which Dockerfile is read: in 20.10 the classic builder applies it
only after the Dockerfile was read, to drop the Dockerfile and `.dockerignore` themselves from
the context (`removeDockerfile`); `<Dockerfile>.dockerignore` is BuildKit's, not read here.
"""

from __future__ import annotations

import bz2
import copy
import gzip
import io
import lzma
import posixpath
import tarfile
import zlib
from dataclasses import dataclass

from django.utils.translation import gettext as _

from .errors import GatewayError, bad_request, refused
from .policy import mib

_MAX_LINK_HOPS = 40  # Linux's own limit when following symlinks


@dataclass
class Context:
    data: bytes  # the plain tar the student sent (decompressed)
    members: list[tarfile.TarInfo]  # in order, names normalised, the root entry left out
    by_name: dict[str, tarfile.TarInfo]
    folders: set[str]  # every folder the engine will create, explicit or implied


def too_large(limit: int) -> GatewayError:
    return refused(
        _(
            "El contexto de construcción supera %(max)s: añade un .dockerignore o usa una carpeta "
            "con menos ficheros."
        )
        % {"max": mib(limit)}
    )


def decompress(data: bytes, limit: int) -> bytes:
    """The formats the engine detects (`archive.DetectCompression`: gzip, bzip2, xz); the
    engine then gets a plain tar, so a format it reads differently never reaches it."""
    opener: gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile | None = None
    if data[:3] == b"\x1f\x8b\x08":
        opener = gzip.GzipFile(fileobj=io.BytesIO(data))
    elif data[:3] == b"BZh":
        opener = bz2.BZ2File(io.BytesIO(data))
    elif data[:6] == b"\xfd7zXZ\x00":
        opener = lzma.LZMAFile(io.BytesIO(data))
    if opener is None:
        return data
    try:
        with opener:
            out = opener.read(limit + 1)
    except (OSError, EOFError, lzma.LZMAError, zlib.error):
        raise bad_request(_("El contexto de construcción comprimido está dañado.")) from None
    if len(out) > limit:
        raise too_large(limit)
    return out


def _bad(name: str, why: str) -> GatewayError:
    return refused(
        _("Contexto de construcción: «%(name)s» %(why)s") % {"name": name[:200], "why": why}
    )


def _parts(name: str) -> list[str]:
    return [p for p in name.split("/") if p not in ("", ".")]


def read(data: bytes) -> Context:
    """Parses and checks a plain context tar."""
    # The CLI's `-f` outside the context appends the Dockerfile without the last padding or
    # the end-of-archive blocks; Go's reader takes that end of data as the end of the archive,
    # Python's raises. Complete it, then refuse data that really is cut short.
    size = len(data)
    data += b"\0" * ((-size) % 512 + 1024)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            raw_members = archive.getmembers()
    except (tarfile.TarError, ValueError, UnicodeError, OverflowError, EOFError):
        raise bad_request(_("El contexto de construcción no es un archivo tar válido.")) from None
    if any(m.isreg() and m.offset_data + m.size > size for m in raw_members):
        raise bad_request(_("El contexto de construcción no es un archivo tar válido."))
    members: list[tarfile.TarInfo] = []
    by_name: dict[str, tarfile.TarInfo] = {}
    for member in raw_members:
        name = member.name
        if "\x00" in name or "\x00" in member.linkname:
            raise _bad(name, _("tiene un carácter nulo en el nombre."))
        if name.startswith("/"):
            raise _bad(name, _("es una ruta absoluta: el contexto solo admite rutas relativas."))
        if ".." in name.split("/"):
            raise _bad(name, _("contiene «..»: el contexto solo admite rutas dentro de él."))
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise _bad(name, _("no es un fichero, una carpeta ni un enlace."))
        if member.issparse():
            raise _bad(name, _("es un fichero disperso (sparse), que Muelle no admite."))
        normal = posixpath.normpath(name)
        if normal == ".":
            if not member.isdir():
                raise _bad(name, _("no es válido como nombre."))
            continue  # the context's root folder, which the engine skips too
        if normal in by_name:
            raise _bad(
                normal,
                _("aparece dos veces en el contexto (con nombres que Docker considera iguales)."),
            )
        if member.islnk():
            target = member.linkname
            if target.startswith("/") or ".." in target.split("/"):
                raise _bad(name, _("es un enlace duro a algo fuera del contexto."))
        clean = copy.copy(member)
        clean.name = normal
        by_name[normal] = clean
        members.append(clean)
    folders: set[str] = set()
    for member in members:
        parts = member.name.split("/")
        for depth in range(1, len(parts)):
            ancestor = "/".join(parts[:depth])
            above = by_name.get(ancestor)
            if above is not None and not above.isdir():
                raise _bad(
                    member.name,
                    _("está dentro de «%(a)s», que no es una carpeta.") % {"a": ancestor},
                )
            folders.add(ancestor)
        if member.isdir():
            folders.add(member.name)
    context = Context(data, members, by_name, folders)
    for member in members:
        if member.issym() and _leaves(context, member):
            raise _bad(member.name, _("es un enlace simbólico a algo fuera del contexto."))
    return context


def _leaves(context: Context, link: tarfile.TarInfo) -> bool:
    """Whether following the symlink, through the context's own links, climbs above it."""
    base = _parts(posixpath.dirname(link.name))
    return _resolve(context, base, link.linkname, [0]) is None


def _resolve(context: Context, base: list[str], target: str, hops: list[int]) -> list[str] | None:
    """The folder parts a symlink target leads to, or None when it leaves the context (or
    loops, as Linux gives up after 40 links)."""
    if target.startswith("/"):
        return None
    parts = list(base)
    for component in target.split("/"):
        if component in ("", "."):
            continue
        if component == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(component)
        inner = context.by_name.get("/".join(parts))
        if inner is not None and inner.issym():
            hops[0] += 1
            if hops[0] > _MAX_LINK_HOPS:
                return None
            parts.pop()
            resolved = _resolve(context, parts, inner.linkname, hops)
            if resolved is None:
                return None
            parts = resolved
    return parts


def find_dockerfile(context: Context, wanted: str) -> tarfile.TarInfo:
    """The member the engine will open for `dockerfile=wanted` (with its fallback from
    `Dockerfile` to `dockerfile`); it must be a plain file, not a link."""
    if wanted.startswith("/") or ".." in wanted.split("/") or "\x00" in wanted:
        raise refused(
            _("El Dockerfile «%(name)s» debe estar dentro del contexto de construcción.")
            % {"name": wanted[:200]}
        )
    candidates = [posixpath.normpath(wanted)]
    if wanted == "Dockerfile":
        candidates.append("dockerfile")
    for candidate in candidates:
        member = context.by_name.get(candidate)
        if member is None and candidate in context.folders:
            raise bad_request(
                _("«%(name)s» es una carpeta, no un Dockerfile.") % {"name": candidate}
            )
        if member is not None:
            if not member.isreg():
                raise refused(_("El Dockerfile debe ser un fichero normal, no un enlace."))
            return member
    raise bad_request(
        _("No se encuentra el Dockerfile «%(name)s» en el contexto de construcción.")
        % {"name": wanted[:200]}
    )


def content(context: Context, member: tarfile.TarInfo) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(context.data), mode="r:") as archive:
        # The copy kept its offsets into the original archive, all extractfile needs.
        handle = archive.extractfile(member)
        assert handle is not None  # a regular file, checked
        return handle.read()


def rebuild(context: Context, dockerfile: tarfile.TarInfo, checked: bytes) -> bytes:
    """A new plain tar holding exactly the parsed members, the Dockerfile replaced."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(context.data), mode="r:") as source,
        tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as target,
    ):
        for member in context.members:
            fresh = tarfile.TarInfo(member.name)
            fresh.mode = member.mode & 0o7777
            fresh.mtime = member.mtime
            fresh.uid, fresh.gid = member.uid, member.gid
            fresh.uname, fresh.gname = member.uname, member.gname
            if member.isdir():
                fresh.type = tarfile.DIRTYPE
                target.addfile(fresh)
            elif member.issym():
                fresh.type = tarfile.SYMTYPE
                fresh.linkname = member.linkname
                target.addfile(fresh)
            elif member.islnk():
                fresh.type = tarfile.LNKTYPE
                fresh.linkname = posixpath.normpath(member.linkname)
                target.addfile(fresh)
            elif member is dockerfile:
                fresh.size = len(checked)
                target.addfile(fresh, io.BytesIO(checked))
            else:
                fresh.size = member.size
                target.addfile(fresh, source.extractfile(member))
    return out.getvalue()
