"""Stand-ins for the images students meet in real life, under the real names and tags.

Where no registry answers (these machines, a classroom offline) Muelle builds them from Debian
bookworm packages: `debian:bookworm` with mmdebstrap, every other Debian-based one as a single
layer over it (the packages are downloaded on the host with apt, installed in a container without
network, committed), and the tiny ones (hello-world, busybox, alpine) from the host's static
BusyBox. Each honours the part of the official image's contract a beginner relies on (command,
port, environment variables, data and content folders, user); docs/images.md lists what differs.

Every stand-in is labelled muelle.course=1 (so every student sees it through the gateway),
muelle.stand-in (what it is) and org.opencontainers.image.description (what `docker image
inspect` shows), and carries the hash of its recipe: a build with an unchanged recipe only checks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

FILES_DIR = Path(__file__).resolve().parent / "stand_in_files"
SUITE = "bookworm"
BUILDER_VERSION = "1"  # bump when the build procedure itself changes what it produces

LABEL_COURSE = "muelle.course"
LABEL_RECIPE = "muelle.course.recipe"
LABEL_STAND_IN = "muelle.stand-in"
LABEL_DESCRIPTION = "org.opencontainers.image.description"
LABEL_VERSION = "org.opencontainers.image.version"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class StandIn:
    repository: str
    tags: tuple[str, ...]  # the first is the pinned one the image is committed under
    version: str  # what the Debian package gives (shown in the labels and the docs)
    kind: str  # "base" (mmdebstrap), "layer" (packages over the base) or "busybox"
    description: str  # English, for `docker image inspect`, like the official images' labels
    packages: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()  # Dockerfile instructions: CMD, ENTRYPOINT, EXPOSE, ENV…
    official_size_mb: float | None = None  # the official image's size (amd64, MB), for the bench
    extra_inputs: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return f"{self.repository}:{self.tags[0]}"

    @property
    def names(self) -> list[str]:
        return [f"{self.repository}:{tag}" for tag in self.tags]

    @property
    def files(self) -> Path:
        return FILES_DIR / self.repository

    def stand_in_text(self) -> str:
        return (
            f"Muelle stand-in for the official {self.repository} image, built offline by Muelle "
            f"from Debian {SUITE} packages ({self.version}); see docs/images.md for what differs"
        )

    def own_digest(self) -> str:
        """Hash of this recipe alone (the base's is mixed in by the builder)."""
        h = hashlib.sha256()
        for part in (
            BUILDER_VERSION,
            self.repository,
            *self.tags,
            self.version,
            self.kind,
            self.description,
            *self.packages,
            *self.changes,
            *self.extra_inputs,
        ):
            h.update(len(part).to_bytes(4, "big") + part.encode())
        if self.files.is_dir():
            for path in sorted(p for p in self.files.rglob("*") if p.is_file() or p.is_symlink()):
                rel = path.relative_to(self.files).as_posix().encode()
                mode = str(path.lstat().st_mode & 0o777).encode()
                h.update(rel + b"\0" + mode + b"\0" + path.read_bytes())
        return h.hexdigest()[:16]


def _entrypoint(cmd: str, *more: str) -> tuple[str, ...]:
    return ('ENTRYPOINT ["docker-entrypoint.sh"]', f"CMD {cmd}", *more)


BASE = StandIn(
    "debian",
    ("bookworm", "12", "bookworm-slim", "latest"),
    "12 (bookworm)",
    "base",
    "Debian bookworm (minbase), the base of Muelle's other stand-ins",
    changes=('CMD ["bash"]',),
    official_size_mb=117,
)

STAND_INS: tuple[StandIn, ...] = (
    BASE,
    StandIn(
        "hello-world",
        ("latest",),
        "BusyBox 1.35",
        "busybox",
        "Hello World! (an example of minimal Dockerization)",
        changes=('CMD ["/hello"]',),
        official_size_mb=0.013,
    ),
    StandIn(
        "busybox",
        ("1.35", "latest"),
        "1.35",
        "busybox",
        "Busybox base image.",
        changes=('CMD ["sh"]',),
        official_size_mb=4,
    ),
    StandIn(
        "alpine",
        ("3", "latest"),
        "BusyBox 1.35 (not Alpine: no musl, no apk packages)",
        "busybox",
        "A BusyBox system standing in for Alpine Linux: sh and the usual tools, no apk",
        changes=('CMD ["/bin/sh"]',),
        official_size_mb=7,
    ),
    StandIn(
        "nginx",
        ("1.22", "1.22.1", "latest"),
        "1.22.1",
        "layer",
        "Official build of Nginx.",
        packages=("nginx",),
        changes=(
            'CMD ["nginx", "-g", "daemon off;"]',
            "EXPOSE 80",
        ),
        official_size_mb=142,
    ),
    StandIn(
        "httpd",
        ("2.4", "latest"),
        "2.4",
        "layer",
        "The Apache HTTP Server Project",
        packages=("apache2",),
        changes=(
            'CMD ["httpd-foreground"]',
            "EXPOSE 80",
            "WORKDIR /usr/local/apache2",
        ),
        official_size_mb=148,
    ),
    StandIn(
        "redis",
        ("7.0", "7", "latest"),
        "7.0",
        "layer",
        "Redis is an open source key-value store that functions as a data structure server.",
        packages=("redis-server",),
        changes=(*_entrypoint('["redis-server"]'), "EXPOSE 6379", "WORKDIR /data", "VOLUME /data"),
        official_size_mb=117,
    ),
    StandIn(
        "mariadb",
        ("10.11", "10", "latest"),
        "10.11",
        "layer",
        "MariaDB Server is a high performing open source relational database.",
        packages=("mariadb-server",),
        changes=(*_entrypoint('["mariadbd"]'), "EXPOSE 3306", "VOLUME /var/lib/mysql"),
        official_size_mb=404,
    ),
    StandIn(
        "postgres",
        ("15", "latest"),
        "15",
        "layer",
        "The PostgreSQL object-relational database system.",
        packages=("postgresql-15",),
        changes=(
            *_entrypoint('["postgres"]'),
            "ENV PATH=/usr/lib/postgresql/15/bin:" + PATH,
            "ENV PGDATA=/var/lib/postgresql/data",
            "EXPOSE 5432",
            "VOLUME /var/lib/postgresql/data",
        ),
        official_size_mb=412,
    ),
    StandIn(
        "python",
        ("3.11-slim", "3.11", "3.11-slim-bookworm", "3-slim", "latest"),
        "3.11",
        "layer",
        "Python is an interpreted, interactive, object-oriented, open-source programming language.",
        packages=("python3", "python3-pip", "python3-venv"),
        changes=('CMD ["python3"]',),
        official_size_mb=131,
    ),
    StandIn(
        "wordpress",
        ("6.1", "6.1-apache", "6", "latest"),
        "6.1",
        "layer",
        "The rich content management system (WordPress with Apache and PHP 8.2).",
        packages=(
            "wordpress",
            "wordpress-theme-twentytwentythree",
            "libapache2-mod-php",
            "php-mysql",
        ),
        changes=(
            *_entrypoint('["apache2-foreground"]'),
            "EXPOSE 80",
            "WORKDIR /var/www/html",
            "VOLUME /var/www/html",
        ),
        official_size_mb=616,
    ),
    StandIn(
        "adminer",
        ("4.8.1", "4", "latest"),
        "4.8.1",
        "layer",
        "Database management in a single PHP file.",
        packages=("adminer", "php-cli", "php-mysql", "php-pgsql", "php-sqlite3"),
        changes=(
            'CMD ["php", "-S", "0.0.0.0:8080", "-t", "/var/www/html"]',
            "EXPOSE 8080",
            "WORKDIR /var/www/html",
            "USER adminer",
        ),
        official_size_mb=250,
    ),
)


def by_repository(repository: str) -> StandIn | None:
    return next((s for s in STAND_INS if s.repository == repository), None)


def image_names() -> list[str]:
    """Every repository:tag the course provides as a stand-in."""
    return [name for stand_in in STAND_INS for name in stand_in.names]


def pull_allowlist() -> list[str]:
    """The pinned references a deployment with Docker Hub access pulls instead."""
    return [stand_in.name for stand_in in STAND_INS]
