"""Builds the stand-ins of sandbox.course_images.standins, offline, cached by recipe hash.

    debian:bookworm   mmdebstrap --variant=minbase from the host's apt sources, `docker import`
    layer images      their packages' .debs (only those the base lacks) fetched on the host with
                      apt, then installed over the base in a container without network and
                      committed: one layer each, the base shared
    busybox images    a root filesystem around the host's static BusyBox, `docker import`

A recipe whose hash label is already on every one of its tags is left alone; a failed or
incomplete build leaves nothing tagged with the new hash and is tried once more.

Over 500 lines on purpose: the three ways of building above share the recipe hash, the retry,
the lock between processes and the clean-up of leftovers, and split apart they would each need
all four back.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from sandbox import engine

from . import CourseImageError, _busybox, _busybox_root, _Tar
from .standins import (
    BASE,
    LABEL_COURSE,
    LABEL_DESCRIPTION,
    LABEL_RECIPE,
    LABEL_STAND_IN,
    LABEL_VERSION,
    PATH,
    STAND_INS,
    SUITE,
    StandIn,
)

Progress = Callable[[str], None]

ATTEMPTS = 2
JOBS = 2  # the machines have 2 cores; more builds at once only queue on dpkg
INSTALL_TIMEOUT = 1200.0
BUILD_DIR = "/muelle-build"  # inside the build container, removed before the commit

# Dropped from every Debian-based stand-in (the official images drop them too); licences stay.
DPKG_EXCLUDES = ["/usr/share/man/*", "/usr/share/doc/*", "/usr/share/info/*", "/usr/share/locale/*"]
DPKG_INCLUDES = ["/usr/share/doc/*/copyright"]

# Runs as root inside the build container, over the base, with no network.
INSTALL_SCRIPT = f"""set -eu
export DEBIAN_FRONTEND=noninteractive
cd {BUILD_DIR}
if [ -f pre.sh ]; then sh -eu pre.sh; fi
# No service starts during the install: there is no init, and nothing should run at build time.
printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
apt-get install -y -q --no-install-recommends \\
  -o Dpkg::Options::=--force-unsafe-io -o Dpkg::Options::=--force-confdef \\
  -o Dpkg::Options::=--force-confold ./debs/*.deb
rm -f /usr/sbin/policy-rc.d
if [ -d rootfs ]; then cp -a rootfs/. /; fi
if [ -f setup.sh ]; then sh -eu setup.sh; fi
cd /
rm -rf {BUILD_DIR} /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \\
  /var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/cache/debconf/*-old \\
  /var/lib/dpkg/*-old /root/.cache
"""

HELLO = """
Hello from Docker!
This message shows that your installation appears to be working correctly.

(¡Hola! Esta imagen hello-world la construyó Muelle sin conexión como sustituta de la oficial.)

Para generar este mensaje, Docker ha hecho lo siguiente:
 1. El cliente docker ha pedido al motor (el «daemon») que ejecute la imagen hello-world.
 2. El motor ya tenía la imagen (en Muelle las imágenes del curso ya están aquí; con acceso a
    Docker Hub, el motor la habría descargado de allí).
 3. El motor ha creado un contenedor nuevo a partir de esa imagen, que ha ejecutado el programa
    que escribe lo que estás leyendo.
 4. El motor ha enviado esa salida al cliente docker, que la ha mostrado en tu terminal.

Para probar algo más ambicioso, ejecuta un intérprete de órdenes en un contenedor:
 $ docker run -it debian:bookworm bash
"""

APK = """#!/bin/sh
echo "apk: esta imagen «alpine» es un sustituto construido por Muelle con BusyBox; no es Alpine" >&2
echo "y no tiene gestor de paquetes. Para instalar paquetes usa debian:bookworm (apt-get)." >&2
exit 1
"""


def _lock_say(progress: Progress) -> Progress:
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            progress(line)

    return say


# --- hashes and state --------------------------------------------------------------------------
def _busybox_digest() -> str:
    binary = Path("/bin/busybox")
    return hashlib.sha256(binary.read_bytes()).hexdigest() if binary.exists() else "none"


def recipe_digest(stand_in: StandIn, base: StandIn = BASE) -> str:
    h = hashlib.sha256(stand_in.own_digest().encode())
    if stand_in.kind == "base":
        h.update("\n".join(DPKG_EXCLUDES + DPKG_INCLUDES + BASE_EXTRA + BASE_PURGE).encode())
    elif stand_in.kind == "layer":
        h.update(recipe_digest(base).encode() + INSTALL_SCRIPT.encode())
    else:
        h.update(_busybox_digest().encode())
    return h.hexdigest()[:16]


def is_current(stand_in: StandIn, digest: str) -> bool:
    """Every tag of the recipe names an image labelled with this recipe's hash."""
    ids = set()
    for name in stand_in.names:
        labels = engine.image_labels(name)
        if labels is None or labels.get(LABEL_RECIPE) != digest:
            return False
        ids.add(engine.image_id(name))
    return len(ids) == 1


def _changes(stand_in: StandIn, digest: str) -> list[str]:
    labels = {
        LABEL_COURSE: "1",
        LABEL_RECIPE: digest,
        LABEL_STAND_IN: stand_in.stand_in_text(),
        LABEL_DESCRIPTION: f"{stand_in.description} [{stand_in.stand_in_text()}]",
        LABEL_VERSION: stand_in.version,
        "org.opencontainers.image.vendor": "Muelle",
    }
    label_text = " ".join(f'{k}="{_quote(v)}"' for k, v in labels.items())
    # The build container's command is replaced by every recipe's CMD; STOPSIGNAL is not among
    # the instructions `docker import`/`commit` accept (docs/images.md lists it as a difference).
    base = [f"ENV PATH={PATH}", "ENV LANG=C.UTF-8"]
    return [*base, *stand_in.changes, f"LABEL {label_text}"]


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


# --- the base: mmdebstrap ------------------------------------------------------------------------
# minbase resolves init-system-helpers' "usrmerge | usr-is-merged" to usrmerge, which drags in
# full Perl (~48 MB) that nothing in the images needs; with usr-is-merged they can be purged (as
# sandbox/images does). A layer whose packages need Perl gets it back from apt.
BASE_EXTRA = ["usr-is-merged"]
BASE_PURGE = [
    "usrmerge",
    "libfile-find-rule-perl",
    "libnumber-compare-perl",
    "libtext-glob-perl",
    "perl",
    "libperl5.36",
    "perl-modules-5.36",
]


def mmdebstrap_command(target: Path) -> list[str]:
    cmd = [
        "mmdebstrap",
        "--variant=minbase",
        "--include=" + ",".join(BASE_EXTRA),
        "--format=tar",
        "--dpkgopt=force-unsafe-io",
        "--aptopt=Acquire::Languages none",
    ]
    cmd += [f"--dpkgopt=path-exclude={p}" for p in DPKG_EXCLUDES]
    cmd += [f"--dpkgopt=path-include={p}" for p in DPKG_INCLUDES]
    cmd.append('--customize-hook=chroot "$1" dpkg --purge ' + " ".join(BASE_PURGE))
    cmd.append(
        '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/apt '
        '"$1"/var/log/dpkg.log "$1"/var/log/alternatives.log'
    )
    # The unsafe-io setting is for the build only, not for what students install later.
    cmd.append('--customize-hook=sed -i "/force-unsafe-io/d" "$1"/etc/dpkg/dpkg.cfg.d/99mmdebstrap')
    cmd += [SUITE, str(target)]  # no mirror: the host's apt sources
    return cmd


def _build_base(stand_in: StandIn, digest: str, say: Progress) -> None:
    if shutil.which("mmdebstrap") is None:
        raise CourseImageError(
            _(
                "Falta mmdebstrap para construir %(image)s: instálalo (sudo apt-get install "
                "mmdebstrap) y vuelve a ejecutar."
            )
            % {"image": stand_in.name}
        )
    workdir = Path(tempfile.mkdtemp(prefix="muelle-standin-base-"))
    try:
        target = workdir / "rootfs.tar"
        proc = subprocess.Popen(
            mmdebstrap_command(target), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        assert proc.stderr is not None
        tail: list[str] = []
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            tail = [*tail[-19:], line]
            if line.startswith(("I: downloading", "I: extracting", "I: installing", "E: ")):
                say(f"  {stand_in.name}: mmdebstrap: {line[3:]}")
        if proc.wait() != 0:
            raise CourseImageError(
                _("mmdebstrap no pudo crear %(image)s:\n%(tail)s")
                % {"image": stand_in.name, "tail": "\n".join(tail[-10:])}
            )
        repository, _sep, tag = stand_in.name.partition(":")
        engine.import_tar(target, repository, tag, _changes(stand_in, digest))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- busybox images ------------------------------------------------------------------------------
def _busybox_rootfs(stand_in: StandIn) -> bytes:
    if stand_in.repository == "hello-world":
        tar = _Tar()
        for folder in ("bin", "dev", "proc", "sys", "etc"):
            tar.dir(folder)
        tar.file("bin/busybox", _busybox(), 0o755)
        tar.file(
            "hello",
            b"#!/bin/busybox sh\n/bin/busybox cat <<'EOF'\n" + HELLO.encode() + b"EOF\n",
            0o755,
        )
        return tar.close()

    def extra(tar: _Tar) -> None:
        if stand_in.repository == "alpine":
            tar.file("sbin/apk", APK.encode(), 0o755)
            tar.file(
                "etc/motd",
                b"Sustituto de Alpine construido por Muelle con BusyBox (sin apk).\n",
            )

    version = stand_in.version.split()[1] if " " in stand_in.version else stand_in.version
    os_release = (
        f'NAME="BusyBox ({stand_in.repository} stand-in by Muelle)"\nID=busybox\n'
        f'VERSION_ID={version}\nPRETTY_NAME="{stand_in.stand_in_text()}"\n'
    )
    return _busybox_root(extra, os_release=os_release.encode())


def _build_busybox(stand_in: StandIn, digest: str, say: Progress) -> None:
    repository, _sep, tag = stand_in.name.partition(":")
    engine.import_tar(_busybox_rootfs(stand_in), repository, tag, _changes(stand_in, digest))


# --- layer images --------------------------------------------------------------------------------
_INST = re.compile(r"^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) .*\[([\w-]+)\]\)")
_download_lock = threading.Lock()


def deb_cache() -> Path:
    """Where downloaded .debs are kept between builds (MUELLE_STAND_IN_DEB_CACHE overrides, for
    a bench that measures a build from nothing)."""
    override = os.environ.get("MUELLE_STAND_IN_DEB_CACHE")
    folder = (
        Path(override) if override else Path(settings.BASE_DIR) / "var" / "cache" / "stand-in-debs"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _apt(args: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", "-q", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )


def packages_to_install(packages: Iterable[str], status: Path) -> list[tuple[str, str, str]]:
    """(name, version, arch) of every package apt would install over a system whose dpkg status
    is `status` (the base's), without recommends: the host's package lists decide."""
    args = [
        "-s",
        "--no-install-recommends",
        "-o",
        f"Dir::State::status={status}",
        "-o",
        "Debug::NoLocking=1",
        "install",
        *packages,
    ]
    result = _apt(args)
    if result.returncode != 0 and os.geteuid() == 0:
        # No package lists on this host yet: fetch them once and ask again.
        _apt(["update", "-qq"])
        result = _apt(args)
    if result.returncode != 0:
        raise CourseImageError(
            _("apt no sabe instalar %(p)s:\n%(err)s")
            % {"p": " ".join(packages), "err": result.stderr.strip()[-500:]}
        )
    return [m.groups() for m in map(_INST.match, result.stdout.splitlines()) if m]  # type: ignore[misc]


def deb_filename(name: str, version: str, arch: str) -> str:
    return f"{name}_{version.replace(':', '%3a')}_{arch}.deb"


def download_debs(wanted: list[tuple[str, str, str]], say: Progress, label: str) -> list[Path]:
    """The .deb files of `wanted`, from the cache or downloaded into it with apt-get download."""
    cache = deb_cache()
    with _download_lock:  # two apt-get downloads into one folder would race on partial files
        missing = [w for w in wanted if not (cache / deb_filename(*w)).is_file()]
        if missing:
            say(
                _("  %(image)s: descargando %(n)d paquetes de Debian…")
                % {"image": label, "n": len(missing)}
            )
            result = _apt(["download", *[f"{n}={v}" for n, v, _a in missing]], cwd=cache)
            if result.returncode != 0:
                raise CourseImageError(
                    _("No se pudieron descargar los paquetes de %(image)s:\n%(err)s")
                    % {"image": label, "err": result.stderr.strip()[-500:]}
                )
    paths = [cache / deb_filename(*w) for w in wanted]
    absent = [p.name for p in paths if not p.is_file()]
    if absent:
        raise CourseImageError(
            _("Faltan paquetes descargados: %(names)s") % {"names": ", ".join(absent)}
        )
    return paths


def _layer_archive(stand_in: StandIn, debs: list[Path]) -> bytes:
    buffer = io.BytesIO()
    root = BUILD_DIR.lstrip("/")
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for deb in debs:
            tar.add(deb, arcname=f"{root}/debs/{deb.name}")
        if stand_in.files.is_dir():
            tar.add(stand_in.files, arcname=root)
        script = INSTALL_SCRIPT.encode()
        info = tarfile.TarInfo(f"{root}/install.sh")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    return buffer.getvalue()


def _build_layer(stand_in: StandIn, digest: str, say: Progress, base: StandIn) -> None:
    if shutil.which("apt-get") is None:
        raise CourseImageError(
            _("Para construir %(image)s hace falta apt.") % {"image": stand_in.name}
        )
    base_id = engine.image_id(base.name)
    if base_id is None:
        raise CourseImageError(_("Falta la imagen base %(base)s.") % {"base": base.name})
    with tempfile.TemporaryDirectory(prefix="muelle-standin-") as tmp:
        status = Path(tmp) / "status"
        status.write_bytes(engine.read_image_file(base_id, "/var/lib/dpkg/status"))
        wanted = packages_to_install(stand_in.packages, status)
    debs = download_debs(wanted, say, stand_in.name)
    say(
        _("  %(image)s: instalando %(n)d paquetes sobre %(base)s…")
        % {"image": stand_in.name, "n": len(debs), "base": base.name}
    )
    repository, _sep, tag = stand_in.name.partition(":")
    try:
        engine.run_and_commit(
            base_id,
            _layer_archive(stand_in, debs),
            ["/bin/sh", f"{BUILD_DIR}/install.sh"],
            repository=repository,
            tag=tag,
            changes=_changes(stand_in, digest),
            timeout=INSTALL_TIMEOUT,
        )
    except engine.StepFailed as exc:
        raise CourseImageError(
            _("La instalación de %(image)s falló: %(error)s")
            % {"image": stand_in.name, "error": exc}
        ) from exc


# --- one recipe, with its retry -----------------------------------------------------------------
def _builder(stand_in: StandIn, base: StandIn) -> Callable[[StandIn, str, Progress], None]:
    if stand_in.kind == "base":
        return _build_base
    if stand_in.kind == "busybox":
        return _build_busybox
    return lambda s, d, say: _build_layer(s, d, say, base)


def _discard_failed(stand_in: StandIn, digest: str, previous: dict[str, str | None]) -> None:
    """A failed attempt may have committed or imported something under the first tag: it is
    removed (unless a container uses it), and the tags that pointed elsewhere before are kept."""
    image = engine.image_id(stand_in.name)
    if image and image != previous.get(stand_in.name):
        engine.remove_unused_image(image)


def build_one(
    stand_in: StandIn,
    say: Progress,
    *,
    force: bool = False,
    base: StandIn = BASE,
    builder: Callable[[StandIn, str, Progress], None] | None = None,
) -> bool:
    """Builds one stand-in unless current; True when it built. Raises CourseImageError."""
    digest = recipe_digest(stand_in, base)
    if not force and is_current(stand_in, digest):
        say(_("%(image)s: al día") % {"image": stand_in.name})
        return False
    present = engine.image_labels(stand_in.name)
    if not force and present is not None and LABEL_STAND_IN not in present:
        # Not one of ours: the official image, pulled where Docker Hub answers. Kept.
        say(_("%(image)s: está la imagen oficial; no la sustituyo") % {"image": stand_in.name})
        return False
    build = builder or _builder(stand_in, base)
    previous = {name: engine.image_id(name) for name in stand_in.names}
    started = time.monotonic()
    say(_("%(image)s: construyendo…") % {"image": stand_in.name})
    error: Exception | None = None
    for attempt in range(1, ATTEMPTS + 1):
        try:
            build(stand_in, digest, say)
            labels = engine.image_labels(stand_in.name) or {}
            if labels.get(LABEL_RECIPE) != digest:
                raise CourseImageError(
                    _("%(image)s: el motor no guardó la imagen") % {"image": stand_in.name}
                )
            new_id = engine.image_id(stand_in.name)
            assert new_id is not None
            repository = stand_in.repository
            for tag in stand_in.tags[1:]:
                engine.tag_image(new_id, repository, tag)
            if not is_current(stand_in, digest):
                raise CourseImageError(
                    _("%(image)s: faltan etiquetas tras construir") % {"image": stand_in.name}
                )
            break
        except (CourseImageError, engine.StepFailed, OSError) as exc:
            error = exc
            _discard_failed(stand_in, digest, previous)
            if attempt < ATTEMPTS:
                say(
                    _("%(image)s: falló (%(error)s); lo intento de nuevo")
                    % {"image": stand_in.name, "error": str(exc).splitlines()[0][:200]}
                )
    else:
        assert error is not None
        raise CourseImageError(str(error)) from error
    current = engine.image_id(stand_in.name)
    for old in {i for i in previous.values() if i and i != current}:
        engine.remove_unused_image(old)  # kept while a student's container still uses it
    size = engine.image_size(stand_in.name) or 0
    say(
        _("%(image)s: lista en %(s).1f s (%(mb).0f MB)")
        % {"image": stand_in.name, "s": time.monotonic() - started, "mb": size / 1e6}
    )
    return True


@contextlib.contextmanager
def _one_builder_at_a_time(say: Progress) -> Iterator[None]:
    """Two processes building the same stand-in would each commit an image and leave one of them
    untagged: a second `build_images` (a test run beside a dev server) waits for the first."""
    lock_path = deb_cache().parent / "stand-ins.lock"
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(_("Otra construcción de imágenes está en marcha: espero a que termine…"))
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_stand_ins(
    progress: Progress = print,
    *,
    only: list[str] | None = None,
    force: bool = False,
    jobs: int = JOBS,
    stand_ins: tuple[StandIn, ...] = STAND_INS,
    base: StandIn = BASE,
) -> list[str]:
    """Builds every stand-in missing or out of date (the base first, then the others, `jobs` at
    a time); returns the names built. Raises CourseImageError after the others have finished."""
    say = _lock_say(progress)
    with _one_builder_at_a_time(say):
        return _build_stand_ins(say, only, force, jobs, stand_ins, base)


def _build_stand_ins(
    say: Progress,
    only: list[str] | None,
    force: bool,
    jobs: int,
    stand_ins: tuple[StandIn, ...],
    base: StandIn,
) -> list[str]:
    # Under the lock, a build container still there is an orphan of a build that was killed.
    if engine.remove_build_leftovers():
        say(_("Borrados los restos de una construcción interrumpida."))
    chosen = [
        s for s in stand_ins if not only or s.repository in only or any(n in only for n in s.names)
    ]
    layers = [s for s in chosen if s.kind == "layer"]
    built: list[str] = []
    if base in chosen or layers:
        # The layers need the base, and are rebuilt when it changes (the hash says so).
        if build_one(base, say, force=force and base in chosen, base=base):
            built.append(base.name)
    for stand_in in [s for s in chosen if s.kind == "busybox"]:
        if build_one(stand_in, say, force=force, base=base):
            built.append(stand_in.name)
    errors: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="muelle-stand-in") as pool:
        futures = {s.name: pool.submit(build_one, s, say, force=force, base=base) for s in layers}
        for name, future in futures.items():
            try:
                if future.result():
                    built.append(name)
            except CourseImageError as exc:
                errors.append(f"{name}: {exc}")
    # Superseded versions that could not go when they were replaced (a base whose old layers
    # still existed, a race with another engine user) would show as <none> to every student.
    # (Not the layers of a build under way FROM a current stand-in: they share its recipe.)
    engine.remove_dangling_images(LABEL_STAND_IN, current_by=LABEL_RECIPE)
    if errors:
        raise CourseImageError("\n".join(errors))
    return built
