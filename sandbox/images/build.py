"""Builds the course image, offline when no registry answers.

Offline: mmdebstrap makes a minimal Debian root filesystem from the host's own apt sources (no
mirror is named here), `docker import` turns it into muelle/base:bookworm, and a classic
`docker build` adds the student user and the greeting. Online: the same Dockerfile FROM
debian:bookworm-slim installs the same packages. Either way the result is labelled with the
recipe hash, and a second run with an unchanged recipe returns at once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from sandbox import engine
from sandbox.images import recipe

Say = Callable[[str], None]

PULL_TIMEOUT = 15.0


class BuildFailed(Exception):
    pass


def image_is_current() -> bool:
    labels = engine.image_labels(settings.SANDBOX_IMAGE)
    return labels is not None and labels.get(recipe.RECIPE_LABEL) == recipe.recipe_hash()


def _offline_requested() -> bool:
    return os.environ.get("MUELLE_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def choose_base(say: Say) -> str:
    """The online base when a registry gives it to us quickly, else the offline one."""
    if _offline_requested():
        say(_("MUELLE_OFFLINE está activado: construyo sin conexión."))
        return recipe.BASE_IMAGE
    if engine.image_labels(recipe.ONLINE_BASE) is not None:
        say(_("Uso la imagen %(base)s que ya está en el motor.") % {"base": recipe.ONLINE_BASE})
        return recipe.ONLINE_BASE
    say(
        _("Pruebo a descargar %(base)s (como mucho %(s)d s)…")
        % {"base": recipe.ONLINE_BASE, "s": PULL_TIMEOUT}
    )
    if engine.registry_answers(recipe.ONLINE_BASE, PULL_TIMEOUT):
        return recipe.ONLINE_BASE
    say(_("No hay ningún registro de imágenes disponible: construyo sin conexión."))
    return recipe.BASE_IMAGE


def mmdebstrap_command() -> list[str]:
    cmd = [
        "mmdebstrap",
        "--variant=minbase",
        "--include=" + ",".join(recipe.PACKAGES + recipe.OFFLINE_EXTRA),
        "--format=tar",
    ]
    cmd += [f"--dpkgopt=path-exclude={p}" for p in recipe.DPKG_EXCLUDES]
    cmd += [f"--dpkgopt=path-include={p}" for p in recipe.DPKG_INCLUDES]
    cmd.append('--customize-hook=chroot "$1" dpkg --purge ' + " ".join(recipe.OFFLINE_PURGE))
    # Package lists and caches are of no use in an image without network.
    cmd.append(
        '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* '
        '"$1"/var/log/apt/* "$1"/var/log/dpkg.log'
    )
    # No mirror argument: mmdebstrap uses the host's apt sources.
    cmd += [recipe.SUITE, "-"]
    return cmd


def build_offline_base(say: Say) -> None:
    wanted = recipe.base_hash()
    labels = engine.image_labels(recipe.BASE_IMAGE)
    if labels is not None and labels.get(recipe.RECIPE_LABEL) == wanted:
        say(_("La base %(base)s ya está al día.") % {"base": recipe.BASE_IMAGE})
        return
    if shutil.which("mmdebstrap") is None:
        raise BuildFailed(
            _(
                "Para construir sin conexión hace falta mmdebstrap. Instálalo (sudo apt-get "
                "install mmdebstrap) y vuelve a ejecutar este comando."
            )
        )
    say(
        _("Creando un sistema Debian %(suite)s mínimo con mmdebstrap (tarda menos de un minuto)…")
        % {"suite": recipe.SUITE}
    )
    proc = subprocess.Popen(mmdebstrap_command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    tail: list[str] = []

    def relay_progress() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            tail.append(line)
            del tail[:-20]
            if line.startswith(("I: ", "E: ", "W: ")):
                say("  mmdebstrap: " + line[3:])

    relay = threading.Thread(target=relay_progress, daemon=True)
    relay.start()
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        f"LABEL {recipe.RECIPE_LABEL}={wanted}",
        'CMD ["/bin/bash"]',
    ]
    repository, _sep, tag = recipe.BASE_IMAGE.partition(":")
    say(
        _("Importando el sistema de archivos en el motor como %(base)s…")
        % {"base": recipe.BASE_IMAGE}
    )
    try:
        engine.import_rootfs(proc.stdout, repository, tag, changes)
    finally:
        code = proc.wait()
        relay.join(timeout=5)
    if code != 0:
        raise BuildFailed(
            _("mmdebstrap terminó con el código %(code)d:\n%(tail)s")
            % {"code": code, "tail": "\n".join(tail[-10:])}
        )


def _download_deb(package: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", "download", package],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def fetch_docker_cli(folder: Path, say: Say) -> Path:
    """Puts the `docker` binary of Debian's docker.io package in `folder` (from the host's apt
    sources, like mmdebstrap) and returns its path. Only that one file is taken out."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise BuildFailed(
            _("Para añadir el cliente docker sin conexión a un registro hacen falta apt y dpkg.")
        )
    say(
        _("Descargando el paquete %(pkg)s para sacar de él el cliente docker…")
        % {"pkg": recipe.DOCKER_CLI_PACKAGE}
    )
    with tempfile.TemporaryDirectory(prefix="muelle-docker-cli-") as tmp:
        result = _download_deb(recipe.DOCKER_CLI_PACKAGE, Path(tmp))
        if result.returncode != 0 and os.geteuid() == 0:
            # No package lists yet on this host: fetch them once and try again.
            say(_("Actualizando las listas de paquetes (apt-get update)…"))
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600)
            result = _download_deb(recipe.DOCKER_CLI_PACKAGE, Path(tmp))
        debs = sorted(Path(tmp).glob("*.deb"))
        if result.returncode != 0 or not debs:
            raise BuildFailed(
                _("No se pudo descargar %(pkg)s con apt-get download:\n%(err)s")
                % {"pkg": recipe.DOCKER_CLI_PACKAGE, "err": result.stderr.strip()[-500:]}
            )
        target = folder / "docker"
        with subprocess.Popen(
            # stderr dropped: reading stops at the binary and dpkg-deb complains of a broken pipe.
            ["dpkg-deb", "--fsys-tarfile", str(debs[0])],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        ) as proc:
            assert proc.stdout is not None
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                for member in tar:
                    if member.name == recipe.DOCKER_CLI_MEMBER and member.isfile():
                        source = tar.extractfile(member)
                        assert source is not None
                        with target.open("wb") as out:
                            shutil.copyfileobj(source, out)
                        break
            proc.stdout.close()
            proc.wait()
    if not target.is_file() or target.stat().st_size == 0:
        raise BuildFailed(
            _("El paquete %(pkg)s no trae %(member)s.")
            % {"pkg": recipe.DOCKER_CLI_PACKAGE, "member": recipe.DOCKER_CLI_MEMBER}
        )
    target.chmod(0o755)
    return target


def build(say: Say, *, force: bool = False) -> bool:
    """Builds SANDBOX_IMAGE unless it is current; True when it built something."""
    engine.ping()
    wanted = recipe.recipe_hash()
    if not force and image_is_current():
        say(
            _("La imagen %(image)s está al día (receta %(hash)s).")
            % {"image": settings.SANDBOX_IMAGE, "hash": wanted}
        )
        return False
    started = time.monotonic()
    say(_("Construyendo la imagen del curso %(image)s…") % {"image": settings.SANDBOX_IMAGE})
    # Child first: an image with a child can't be removed.
    superseded = [engine.image_id(settings.SANDBOX_IMAGE), engine.image_id(recipe.BASE_IMAGE)]
    base = choose_base(say)
    uid, gid = recipe.sandbox_uid_gid()
    with tempfile.TemporaryDirectory(prefix="muelle-context-") as tmp:
        # A copy of the context: the offline build adds the docker binary to it.
        context = Path(tmp) / "context"
        shutil.copytree(recipe.CONTEXT_DIR, context)
        if base == recipe.BASE_IMAGE:
            build_offline_base(say)
            binaries = context / recipe.DOCKER_CLI_DIR / "usr" / "bin"
            binaries.mkdir(parents=True, exist_ok=True)
            fetch_docker_cli(binaries, say)
            packages = ""
        else:
            packages = " ".join(recipe.PACKAGES)
        say(_("Añadiendo el cliente docker, el usuario «alumno» y el saludo (docker build)…"))
        for line in engine.build_image(
            str(context),
            settings.SANDBOX_IMAGE,
            labels={recipe.RECIPE_LABEL: wanted},
            buildargs={
                "BASE": base,
                "PACKAGES": packages,
                "UID": uid,
                "GID": gid,
                "DOCKER_CLI_PACKAGE": recipe.DOCKER_CLI_PACKAGE,
            },
        ):
            say("  docker build: " + line)
    if not image_is_current():
        raise BuildFailed(_("La construcción terminó pero la imagen no tiene la receta esperada."))
    current = {engine.image_id(settings.SANDBOX_IMAGE), engine.image_id(recipe.BASE_IMAGE)}
    for old in [i for i in superseded if i and i not in current]:
        # Sandboxes still running on the old image keep it until they are gone.
        if engine.remove_unused_image(old):
            say(_("Borrada la versión anterior %(id)s.") % {"id": old[7:19]})
    say(
        _("Imagen %(image)s lista en %(s).1f s.")
        % {"image": settings.SANDBOX_IMAGE, "s": time.monotonic() - started}
    )
    return True
