"""The gateway's settings, read once from Django settings into a plain frozen object.

The core modules take a GatewayConfig rather than reading django.conf.settings, so tests and the
benchmark can build one with different limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tutorial.env import format_size, parse_size

# Muelle's own settings are parsed with tutorial.env's grammar. What a student sends is not:
# sandbox/gateway/policy.py reads it with the engine's and the kernel's grammars on purpose, so
# the gateway accepts exactly what the engine would.


@dataclass(frozen=True)
class GatewayConfig:
    engine_socket: str = "/var/run/docker.sock"
    socket_dir: Path = Path("var/gateway")
    socket_uid: int = 1000
    socket_gid: int = 1000
    instance: str = "default"
    # Per-container limits: the default a container gets, and the most a student may ask for.
    container_memory: int = 128 * 1024**2
    container_cpus: float = 0.5
    container_pids: int = 64
    container_nofile: int = 1024
    container_shm: int = 64 * 1024**2
    log_max_size: str = "1m"
    cap_allowlist: frozenset[str] = field(
        default_factory=lambda: frozenset(
            {
                "CHOWN",
                "DAC_OVERRIDE",
                "FOWNER",
                "FSETID",
                "KILL",
                "SETGID",
                "SETUID",
                "NET_BIND_SERVICE",
            }
        )
    )
    # Per-student quotas.
    max_containers: int = 8
    max_images: int = 8
    max_volumes: int = 8
    max_networks: int = 4
    max_total_memory: int = 512 * 1024**2
    # Pulls: Docker Hub repositories only, and only these (e.g. "hello-world", "library/nginx").
    pull_allowlist: frozenset[str] = frozenset()
    # Builds (classic builder only).
    build_memory: int = 256 * 1024**2
    build_cpus: float = 1.0
    build_pids: int = 128
    build_context_max: int = 32 * 1024**2
    build_cgroup_root: Path = Path("/sys/fs/cgroup")
    build_cgroup_parent: str = "muelle-build"
    max_json_body: int = 1024 * 1024
    # Open connections per student (the CLI uses a few; compose and `docker stats` more) and how
    # long an idle one may wait for its next request.
    max_connections: int = 64
    idle_timeout: float = 600.0
    # The course registry (docs/registry.md): the name students type, where the real one is
    # (host:port as the engine reaches it; "" = no registry), Muelle's credentials for it, and
    # per-student quotas (tags, and bytes stored as the registry counts them).
    registry_name: str = "registro.muelle"
    registry_address: str = ""
    registry_scheme: str = "http"
    registry_username: str = ""
    registry_password: str = ""
    registry_max_images: int = 10
    registry_max_size: int = 512 * 1024**2

    @classmethod
    def from_settings(cls) -> GatewayConfig:
        from django.conf import settings

        return cls(
            engine_socket=settings.DOCKER_GATEWAY_ENGINE_SOCKET,
            socket_dir=Path(settings.DOCKER_GATEWAY_SOCKET_DIR),
            socket_uid=settings.DOCKER_GATEWAY_SOCKET_UID,
            socket_gid=settings.DOCKER_GATEWAY_SOCKET_GID,
            instance=settings.SANDBOX_INSTANCE,
            container_memory=parse_size(settings.DOCKER_GATEWAY_CONTAINER_MEMORY),
            container_cpus=settings.DOCKER_GATEWAY_CONTAINER_CPUS,
            container_pids=settings.DOCKER_GATEWAY_CONTAINER_PIDS,
            container_nofile=settings.SANDBOX_NOFILE,
            # As text: students see it in refusals ("como máximo 1m") and in inspect.
            log_max_size=format_size(parse_size(settings.SANDBOX_LOG_MAX_SIZE)),
            cap_allowlist=frozenset(c.upper() for c in settings.DOCKER_GATEWAY_CAP_ALLOWLIST),
            max_containers=settings.DOCKER_GATEWAY_MAX_CONTAINERS,
            max_images=settings.DOCKER_GATEWAY_MAX_IMAGES,
            max_volumes=settings.DOCKER_GATEWAY_MAX_VOLUMES,
            max_networks=settings.DOCKER_GATEWAY_MAX_NETWORKS,
            max_total_memory=parse_size(settings.DOCKER_GATEWAY_MAX_TOTAL_MEMORY),
            pull_allowlist=frozenset(settings.DOCKER_GATEWAY_PULL_ALLOWLIST),
            build_memory=parse_size(settings.DOCKER_GATEWAY_BUILD_MEMORY),
            build_cpus=settings.DOCKER_GATEWAY_BUILD_CPUS,
            build_pids=settings.DOCKER_GATEWAY_BUILD_PIDS,
            build_context_max=parse_size(settings.DOCKER_GATEWAY_BUILD_CONTEXT_MAX),
            build_cgroup_root=Path(settings.DOCKER_GATEWAY_BUILD_CGROUP_ROOT),
            build_cgroup_parent=settings.DOCKER_GATEWAY_BUILD_CGROUP_PARENT,
            **_registry_settings(settings),
        )


def _registry_settings(settings: object) -> dict[str, object]:
    """The registry's address from REGISTRY_URL (scheme optional) and the password from its
    file, read when the gateway starts: `scripts/serve` writes the file before Django runs."""
    url: str = getattr(settings, "REGISTRY_URL", "")
    scheme, sep, address = url.partition("://")
    if not sep:
        scheme, address = "http", url
    password: str = getattr(settings, "REGISTRY_PASSWORD", "")
    password_file = Path(getattr(settings, "REGISTRY_PASSWORD_FILE", "") or "/nonexistent")
    if not password and password_file.is_file():
        password = password_file.read_text().strip()
    return {
        "registry_name": getattr(settings, "REGISTRY_NAME", "registro.muelle"),
        "registry_address": address.rstrip("/"),
        "registry_scheme": scheme,
        "registry_username": getattr(settings, "REGISTRY_USERNAME", ""),
        "registry_password": password,
        "registry_max_images": getattr(settings, "REGISTRY_MAX_IMAGES", 10),
        "registry_max_size": int(getattr(settings, "REGISTRY_MAX_SIZE", 512 * 1024**2)),
    }


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
