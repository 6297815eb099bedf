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
import threading
import time
from collections.abc import Callable

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
    if base == recipe.BASE_IMAGE:
        build_offline_base(say)
        packages = ""
    else:
        packages = " ".join(recipe.PACKAGES)
    uid, gid = recipe.sandbox_uid_gid()
    say(_("Añadiendo el usuario «alumno» y el saludo (docker build)…"))
    for line in engine.build_image(
        str(recipe.CONTEXT_DIR),
        settings.SANDBOX_IMAGE,
        labels={recipe.RECIPE_LABEL: wanted},
        buildargs={"BASE": base, "PACKAGES": packages, "UID": uid, "GID": gid},
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
