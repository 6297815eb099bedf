"""What goes into the course image, in one place.

The recipe hash (labelled on the images as muelle.recipe) covers the package list, the build
context files and the sandbox user, so `build_images` rebuilds exactly when one of them changes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings

CONTEXT_DIR = Path(__file__).resolve().parent / "sandbox"
BASE_IMAGE = "muelle/base:bookworm"  # built offline with mmdebstrap + docker import
ONLINE_BASE = "debian:bookworm-slim"  # used when a registry answers
SUITE = "bookworm"
RECIPE_LABEL = "muelle.recipe"

# Everything a student's shell needs, and nothing for the network (sandboxes have none).
# Add a package here and both the offline and the online builds get it.
PACKAGES = [
    "bash",
    "coreutils",  # also timeout(1), which engine.run() relies on
    "procps",
    "hostname",
    "iproute2",
    "less",
    "nano",
    "vim-tiny",
    "ncurses-base",
    "file",
    # Compose 1.29 (Python) for the Compose lessons; it talks to the student's gateway socket.
    "docker-compose",
    # To try a published port from the terminal (`curl localhost:8080`), as on a real machine:
    # Muelle listens on the sandbox's own loopback for each port the student publishes.
    "curl",
    "wget",
    # Holds each terminal's shell inside the sandbox, so any web process can attach to it again
    # (sandbox/terminal_holder.py): a process that dies or a reconnect elsewhere keeps the shell.
    "dtach",
]

# The Docker CLI. Debian bookworm has no client-only package: the `docker` binary is taken out of
# docker.io's .deb (apt-get download + dpkg-deb), never the whole engine with its daemons.
DOCKER_CLI_PACKAGE = "docker.io"
DOCKER_CLI_MEMBER = "./usr/bin/docker"
# Folder of the build context copied over the image's root: the offline build puts the extracted
# binary at usr/bin/docker in it; without it (online build) the Dockerfile downloads the package.
DOCKER_CLI_DIR = "docker-cli"

# Offline only: minbase resolves init-system-helpers' "usrmerge | usr-is-merged" to usrmerge,
# which drags in full Perl (~46 MB). With usr-is-merged installed they can be purged again.
# (debian:bookworm-slim has neither problem.)
OFFLINE_EXTRA = ["usr-is-merged"]
OFFLINE_PURGE = [
    "usrmerge",
    "libfile-find-rule-perl",
    "libnumber-compare-perl",
    "libtext-glob-perl",
    "perl",
    "libperl5.36",
    "perl-modules-5.36",
]

# Dropped from the offline root filesystem: nobody reads them in a throwaway container.
DPKG_EXCLUDES = [
    "/usr/share/man/*",
    "/usr/share/doc/*",
    "/usr/share/info/*",
    "/usr/share/locale/*",
    "/usr/share/lintian/*",
    "/usr/share/linda/*",
]
DPKG_INCLUDES = ["/usr/share/doc/*/copyright"]  # licences stay


def sandbox_uid_gid() -> tuple[str, str]:
    uid, _, gid = settings.SANDBOX_USER.partition(":")
    return uid.strip(), (gid or uid).strip()


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:16]


def base_hash() -> str:
    return _digest(
        SUITE.encode(),
        "\n".join(PACKAGES + OFFLINE_EXTRA).encode(),
        "\n".join(OFFLINE_PURGE).encode(),
        "\n".join(DPKG_EXCLUDES).encode(),
    )


def recipe_hash() -> str:
    files = sorted(p for p in CONTEXT_DIR.rglob("*") if p.is_file())
    parts = [p.relative_to(CONTEXT_DIR).as_posix().encode() + b"\0" + p.read_bytes() for p in files]
    return _digest(
        base_hash().encode(),
        ":".join(sandbox_uid_gid()).encode(),
        f"{DOCKER_CLI_PACKAGE}:{DOCKER_CLI_MEMBER}".encode(),
        *parts,
    )
