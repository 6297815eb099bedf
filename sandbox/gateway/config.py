"""The gateway's settings, read once from Django settings into a plain frozen object.

The core modules take a GatewayConfig rather than reading django.conf.settings, so tests and the
benchmark can build one with different limits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutorial.env import format_size, parse_size

# Muelle's own settings are parsed with tutorial.env's grammar. What a student sends is not:
# sandbox/gateway/policy.py reads it with the engine's and the kernel's grammars on purpose, so
# the gateway accepts exactly what the engine would.


def _setting(name: str, convert: Callable[[Any], Any] = lambda value: value) -> Any:
    """A field whose default is the setting's value when the config is built: each default is
    written once, in tutorial/settings.py, and a config built by a test or a bench differs from
    the deployment only where it says so."""

    def read() -> Any:
        from django.conf import settings

        return convert(getattr(settings, name))

    return field(default_factory=read)


def _caps(names: list[str]) -> frozenset[str]:
    return frozenset(name.upper() for name in names)


@dataclass(frozen=True)
class GatewayConfig:
    engine_socket: str = _setting("DOCKER_GATEWAY_ENGINE_SOCKET")
    socket_dir: Path = _setting("DOCKER_GATEWAY_SOCKET_DIR", Path)
    socket_uid: int = _setting("DOCKER_GATEWAY_SOCKET_UID")
    socket_gid: int = _setting("DOCKER_GATEWAY_SOCKET_GID")
    instance: str = _setting("SANDBOX_INSTANCE")
    # Per-container limits: the default a container gets, and the most a student may ask for.
    container_memory: int = _setting("DOCKER_GATEWAY_CONTAINER_MEMORY", parse_size)
    container_cpus: float = _setting("DOCKER_GATEWAY_CONTAINER_CPUS")
    container_pids: int = _setting("DOCKER_GATEWAY_CONTAINER_PIDS")
    container_nofile: int = _setting("SANDBOX_NOFILE")
    container_shm: int = 64 * 1024**2
    # As text: students see it in refusals ("como máximo 1m") and in inspect.
    log_max_size: str = _setting("SANDBOX_LOG_MAX_SIZE", lambda v: format_size(parse_size(v)))
    # Capabilities a container keeps after `cap_drop: ALL`, and the only ones --cap-add takes.
    cap_allowlist: frozenset[str] = _setting("DOCKER_GATEWAY_CAP_ALLOWLIST", _caps)
    # Per-student quotas.
    max_containers: int = _setting("DOCKER_GATEWAY_MAX_CONTAINERS")
    max_images: int = _setting("DOCKER_GATEWAY_MAX_IMAGES")
    max_volumes: int = _setting("DOCKER_GATEWAY_MAX_VOLUMES")
    max_networks: int = _setting("DOCKER_GATEWAY_MAX_NETWORKS")
    max_total_memory: int = _setting("DOCKER_GATEWAY_MAX_TOTAL_MEMORY", parse_size)
    # Bytes of the engine's disk (writable layers, volumes, own images); 0: not measured.
    max_disk: int = _setting("DOCKER_GATEWAY_MAX_DISK", parse_size)
    # Files and directories in the same (counted where the engine keeps its data on this
    # server): empty files take the disk's inodes, not bytes.
    max_files: int = _setting("DOCKER_GATEWAY_MAX_FILES")
    # Free bytes kept on the disk of the engine's data, when this server sees it: below, every
    # student stops writing (what no measure of one student sees); 0: not watched.
    min_free_disk: int = _setting("DOCKER_GATEWAY_MIN_FREE_DISK", parse_size)
    # Pulls: Docker Hub repositories only, and only these (e.g. "hello-world", "library/nginx").
    # Empty unless given: a config built by hand pulls nothing (from_settings passes the list).
    pull_allowlist: frozenset[str] = frozenset()
    # Builds (classic builder only).
    build_memory: int = _setting("DOCKER_GATEWAY_BUILD_MEMORY", parse_size)
    build_cpus: float = _setting("DOCKER_GATEWAY_BUILD_CPUS")
    build_pids: int = _setting("DOCKER_GATEWAY_BUILD_PIDS")
    build_context_max: int = _setting("DOCKER_GATEWAY_BUILD_CONTEXT_MAX", parse_size)
    import_max: int = _setting("DOCKER_GATEWAY_IMPORT_MAX", parse_size)
    build_cgroup_root: Path = _setting("DOCKER_GATEWAY_BUILD_CGROUP_ROOT", Path)
    build_cgroup_parent: str = _setting("DOCKER_GATEWAY_BUILD_CGROUP_PARENT")
    max_json_body: int = 1024 * 1024
    # Bytes per second of all the student's streams together, both ways (server.Gateway).
    stream_bytes_per_second: int = _setting("DOCKER_GATEWAY_BYTES_PER_SECOND", parse_size)
    # Open connections per student (the CLI uses a few; compose and `docker stats` more) and how
    # long an idle one may wait for its next request.
    max_connections: int = 64
    idle_timeout: float = 600.0
    # The course registry (docs/registry.md): the name students type, where the real one is
    # (host:port as the engine reaches it; "" = no registry), Muelle's credentials for it, and
    # per-student quotas (tags, and bytes stored as the registry counts them).
    registry_name: str = _setting("REGISTRY_NAME")
    registry_address: str = ""
    registry_scheme: str = "http"
    registry_username: str = ""
    registry_password: str = ""
    registry_max_images: int = _setting("REGISTRY_MAX_IMAGES")
    registry_max_size: int = _setting("REGISTRY_MAX_SIZE", parse_size)
    # The local registry's folder, for its garbage collection ("" = none: registry_space).
    registry_folder: str = _setting("REGISTRY_FOLDER")
    registry_collect_every: float = _setting("REGISTRY_COLLECT_EVERY", float)
    registry_log_max: int = _setting("REGISTRY_LOG_MAX", parse_size)

    @classmethod
    def from_settings(cls) -> GatewayConfig:
        from django.conf import settings

        # Every other field defaults to its setting (see _setting).
        return cls(
            pull_allowlist=frozenset(settings.DOCKER_GATEWAY_PULL_ALLOWLIST),
            **_registry_settings(settings),
        )


def _registry_settings(settings: Any) -> dict[str, Any]:
    """The registry's address from REGISTRY_URL (scheme optional) and the password from its
    file, read when the gateway starts: `scripts/serve` writes the file before Django runs."""
    url: str = settings.REGISTRY_URL
    scheme, sep, address = url.partition("://")
    if not sep:
        scheme, address = "http", url
    password: str = settings.REGISTRY_PASSWORD
    password_file = Path(settings.REGISTRY_PASSWORD_FILE or "/nonexistent")
    if not password and password_file.is_file():
        password = password_file.read_text().strip()
    return {
        "registry_name": settings.REGISTRY_NAME,
        "registry_address": address.rstrip("/"),
        "registry_scheme": scheme,
        "registry_username": settings.REGISTRY_USERNAME,
        "registry_password": password,
        "registry_max_images": settings.REGISTRY_MAX_IMAGES,
        "registry_max_size": parse_size(settings.REGISTRY_MAX_SIZE),
    }


def engine_resolver(owner: str) -> Callable[[], Awaitable[str]] | None:
    """With sandboxes placed across a Swarm, what tells the student's gateway (and their clean-
    up) the engine of their sandbox's node, asked at each connection; None: engine_socket."""
    from django.conf import settings

    if settings.SANDBOX_PLACEMENT != "swarm":
        return None
    from sandbox.docker_api.client import owner_engine

    async def resolve() -> str:
        address = owner_engine(owner)
        if address is None:
            # No sandbox of theirs was placed or adopted by this process: nothing to reach.
            raise ConnectionRefusedError(f"no engine known for {owner[:8]}")
        return address

    return resolve


# The configuration in force: the settings', or an override (tests, benchmarks). It lives here,
# below both lifecycle.py and cleanup.py, so neither has to import the other for it.
_override: GatewayConfig | None = None


def set_override(config: GatewayConfig | None) -> None:
    global _override
    _override = config


def override() -> GatewayConfig | None:
    """The override in force (None: the settings'), to put it back after a test."""
    return _override


def current_config() -> GatewayConfig:
    """The override if any, else the settings (read again each time: cheap, and tests change
    SANDBOX_INSTANCE and the folder between tests)."""
    return _override if _override is not None else GatewayConfig.from_settings()
