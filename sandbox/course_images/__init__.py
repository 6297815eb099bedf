"""The course's own images, built offline from Debian packages on this machine.

No registry answers where Muelle runs, so the images lessons use (`docker run muelle/hola`,
`FROM muelle/debian`, `muelle/web`) are made here and shared with every student (label
muelle.course=1). Each carries a hash of its recipe: a second run only checks.

    muelle/hola     a hello-world: prints a Spanish explanation of what just happened (~2 MB)
    muelle/busybox  a small Linux userland: BusyBox with every applet, a shell, users (~2 MB)
    muelle/web      a web server: BusyBox httpd serving a Spanish page on port 80 (~2 MB)
    muelle/debian   Debian bookworm minbase (apt, bash, coreutils), made with mmdebstrap

The BusyBox ones need the `busybox-static` Debian package (/bin/busybox, statically linked);
muelle/debian needs `mmdebstrap` and a reachable Debian mirror (the host's apt sources).
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from . import texts

BUSYBOX = Path("/bin/busybox")
LABEL_COURSE = "muelle.course"
LABEL_RECIPE = "muelle.course.recipe"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Progress = Callable[[str], None]


class CourseImageError(Exception):
    """An image could not be built; the message is Spanish and says what to install."""


@dataclass(frozen=True)
class Recipe:
    name: str  # repository:tag
    description: str
    build: Callable[[Recipe], tuple[bytes | Path, list[str]]]  # (rootfs tar, changes)
    inputs: tuple[str, ...] = ()

    def digest(self) -> str:
        h = hashlib.sha256(self.name.encode())
        for item in self.inputs:
            h.update(item.encode())
        return h.hexdigest()[:16]


# --- BusyBox root filesystems ---------------------------------------------------------------
def _is_static(path: Path) -> bool:
    """True when the ELF file has no program interpreter (PT_INTERP), i.e. is static."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only
        return False
    import struct

    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for index in range(phnum):
        (p_type,) = struct.unpack_from("<I", data, phoff + index * phentsize)
        if p_type == 3:
            return False
    return True


def _busybox() -> bytes:
    if not BUSYBOX.exists() or not _is_static(BUSYBOX):
        raise CourseImageError(
            "Falta BusyBox estático: instala el paquete busybox-static "
            "(sudo apt-get install busybox-static) y vuelve a ejecutar."
        )
    return BUSYBOX.read_bytes()


def _applets() -> list[str]:
    out = subprocess.run(
        [str(BUSYBOX), "--list-full"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return sorted({line.strip() for line in out.splitlines() if line.strip()})


class _Tar:
    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buffer, mode="w:")
        self.mtime = 1_700_000_000  # fixed: the same recipe gives the same layer

    def dir(self, path: str, mode: int = 0o755) -> None:
        info = tarfile.TarInfo(path)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, self.mtime
        self.tar.addfile(info)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(path)
        info.size, info.mode, info.mtime = len(data), mode, self.mtime
        self.tar.addfile(info, io.BytesIO(data))

    def link(self, path: str, target: str) -> None:
        info = tarfile.TarInfo(path)
        info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, target, 0o777, self.mtime
        self.tar.addfile(info)

    def close(self) -> bytes:
        self.tar.close()
        return self.buffer.getvalue()


def _busybox_root(
    extra: Callable[[_Tar], None] | None = None, *, os_release: bytes | None = None
) -> bytes:
    tar = _Tar()
    for folder in (
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "etc",
        "root",
        "home",
        "home/alumno",
        "var",
        "var/log",
        "proc",
        "sys",
        "dev",
        "run",
        "srv",
    ):
        tar.dir(folder, 0o700 if folder == "root" else 0o755)
    tar.dir("tmp", 0o1777)
    tar.file("bin/busybox", _busybox(), 0o755)
    for applet in _applets():
        if applet != "bin/busybox":
            tar.link(applet, "/bin/busybox")
    tar.file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\n"
        b"alumno:x:1000:1000:alumno:/home/alumno:/bin/sh\n"
        b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    tar.file("etc/group", b"root:x:0:\nalumno:x:1000:\nnogroup:x:65534:\n")
    tar.file("etc/hostname", b"muelle\n")
    tar.file("etc/os-release", os_release or b'NAME="BusyBox (Muelle)"\nID=busybox\n')
    if extra:
        extra(tar)
    return tar.close()


def _changes(*lines: str, description: str) -> list[str]:
    return [
        f"ENV {PATH_ENV}",
        *lines,
        f'LABEL org.opencontainers.image.description="{description}"',
    ]


def _build_hola(recipe: Recipe) -> tuple[bytes, list[str]]:
    def extra(tar: _Tar) -> None:
        tar.file("hola.txt", texts.HOLA.encode())

    return _busybox_root(extra), _changes(
        'CMD ["/bin/busybox", "cat", "/hola.txt"]', description=recipe.description
    )


def _build_busybox(recipe: Recipe) -> tuple[bytes, list[str]]:
    return _busybox_root(), _changes('CMD ["sh"]', description=recipe.description)


def _build_web(recipe: Recipe) -> tuple[bytes, list[str]]:
    def extra(tar: _Tar) -> None:
        tar.dir("var/www")
        tar.file("var/www/index.html", texts.WEB_INDEX.encode())

    return _busybox_root(extra), _changes(
        "EXPOSE 80",
        'CMD ["httpd", "-f", "-v", "-p", "80", "-h", "/var/www"]',
        description=recipe.description,
    )


def _build_debian(recipe: Recipe) -> tuple[Path, list[str]]:
    if shutil.which("mmdebstrap") is None:
        raise CourseImageError(
            "Falta mmdebstrap para construir muelle/debian: instálalo "
            "(sudo apt-get install mmdebstrap) y vuelve a ejecutar."
        )
    workdir = Path(tempfile.mkdtemp(prefix="muelle-debian-"))
    target = workdir / "rootfs.tar"
    trim = [
        "rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/*.bin $1/usr/share/doc/* "
        "$1/usr/share/man/* $1/usr/share/info/* $1/usr/share/locale/* $1/var/log/*",
    ]
    command = [
        "mmdebstrap",
        "--variant=minbase",
        "--format=tar",
        "--quiet",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        *[f"--customize-hook={hook}" for hook in trim],
        "bookworm",
        str(target),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        raise CourseImageError(
            "mmdebstrap no pudo crear muelle/debian (¿hay un espejo de Debian accesible en las "
            f"fuentes de apt?): {result.stderr.strip()[-500:]}"
        )
    return target, _changes('CMD ["bash"]', description=recipe.description)


def _busybox_inputs(*extra: str) -> tuple[str, ...]:
    digest = hashlib.sha256(BUSYBOX.read_bytes()).hexdigest() if BUSYBOX.exists() else "none"
    return (digest, "busybox-root-1", *extra)


def recipes() -> list[Recipe]:
    return [
        Recipe(
            "muelle/hola:latest",
            "Hola, Muelle: tu primer contenedor",
            _build_hola,
            _busybox_inputs(texts.HOLA),
        ),
        Recipe(
            "muelle/busybox:latest",
            "Un Linux mínimo con BusyBox",
            _build_busybox,
            _busybox_inputs(),
        ),
        Recipe(
            "muelle/web:latest",
            "Un servidor web mínimo (BusyBox httpd) en el puerto 80",
            _build_web,
            _busybox_inputs(texts.WEB_INDEX),
        ),
        Recipe(
            "muelle/debian:bookworm",
            "Debian bookworm mínimo",
            _build_debian,
            ("debian-bookworm-minbase-1",),
        ),
    ]


def _current_recipe(name: str) -> str | None:
    from sandbox import engine  # the one module that talks to Docker

    labels = engine.image_labels(name)
    return None if labels is None else labels.get(LABEL_RECIPE)


def _image_id(name: str) -> str | None:
    from sandbox import engine

    return engine.image_id(name)


def _remove_superseded(previous: str | None, name: str) -> None:
    """The old version, untagged but still labelled a course image, would show up in every
    student's `docker images` as <none>: removed unless a container still uses it."""
    from sandbox import engine

    if previous and previous != engine.image_id(name):
        engine.remove_unused_image(previous)


def _import(rootfs: bytes | Path, name: str, changes: list[str]) -> None:
    from sandbox import engine

    repository, _sep, tag = name.partition(":")
    engine.import_tar(rootfs, repository, tag, changes)


def build_course_images(
    progress: Progress = print, *, only: list[str] | None = None, force: bool = False
) -> list[str]:
    """Builds every course image missing or out of date; returns the names it built.

    Raises CourseImageError (Spanish message) when an image cannot be built here; the images
    before it are kept."""
    built = []
    for recipe in recipes():
        repo = recipe.name.partition(":")[0]
        if only and recipe.name not in only and repo not in only:
            continue
        digest = recipe.digest()
        if not force and _current_recipe(recipe.name) == digest:
            progress(_("%(image)s: al día") % {"image": recipe.name})
            continue
        progress(
            _("%(image)s: construyendo (%(what)s)…")
            % {"image": recipe.name, "what": recipe.description}
        )
        started = time.monotonic()
        rootfs, changes = recipe.build(recipe)
        changes = [*changes, f"LABEL {LABEL_COURSE}=1 {LABEL_RECIPE}={digest}"]
        previous = _image_id(recipe.name)
        try:
            _import(rootfs, recipe.name, changes)
        finally:
            if isinstance(rootfs, Path):
                shutil.rmtree(rootfs.parent, ignore_errors=True)
        if _current_recipe(recipe.name) != digest:
            raise CourseImageError(
                _("%(image)s: el motor no guardó la imagen") % {"image": recipe.name}
            )
        _remove_superseded(previous, recipe.name)
        built.append(recipe.name)
        progress(
            _("%(image)s: lista en %(s).1f s")
            % {"image": recipe.name, "s": time.monotonic() - started}
        )
    return built


__all__ = ["CourseImageError", "build_course_images", "recipes"]
