"""The container every student gets, built from settings alone.

Plain data (no docker import): sandbox.engine turns it into an API call. Students run arbitrary
code in these containers, so each field here is a deliberate limit; tests/sandbox asserts every
one of them on a real container's inspected HostConfig.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from sandbox import engine_names, project_volume
from tutorial.env import format_size, parse_size

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LANG = "C.UTF-8"
TERM = "xterm-256color"

# Labels: every Muelle container carries managed + instance; `role` keeps the sandbox reaper off
# containers that other parts of Muelle label (the Docker gateway's student containers).
LABEL_MANAGED = engine_names.LABEL_MANAGED
LABEL_INSTANCE = engine_names.LABEL_INSTANCE
LABEL_ROLE = engine_names.LABEL_ROLE
LABEL_OWNER = "muelle.owner"
LABEL_POOL = "muelle.pool"
LABEL_CREATED = "muelle.created"
LABEL_EXPIRES = "muelle.expires"
# Which database records the container: a row-less container is only an orphan to the reaper of
# that database (a test run and a dev server may share an engine and an instance name).
LABEL_STORE = "muelle.store"
# The name of the Docker gateway folder mounted at DOCKER_GATEWAY_MOUNT_TARGET (sandbox/gateway):
# a warm container's folder is served once the container is handed out.
LABEL_GATEWAY = engine_names.LABEL_GATEWAY
ROLE = engine_names.SANDBOX_ROLE

# Keeps the main process alive doing nothing; docker-init (init=True) is PID 1 and reaps zombies.
COMMAND = ["sleep", "infinity"]
# A terminal's shell (runs.open_tty, terminal_holder.py).
LOGIN_SHELL = ("/bin/bash", "-l")
# The engine watches the input of every TTY stream it serves for a «detach» sequence, Ctrl-P
# Ctrl-Q unless told otherwise: it holds a Ctrl-P back until the next key, and on the pair drops
# the stream while the shell goes on. In a terminal of Muelle's that pair would end the terminal,
# and a student who types it to leave their own `docker attach` (which needs it, through the
# gateway) would leave Muelle's terminal instead. So Muelle's own streams (the first terminal's
# attach, every exec) take a sequence nobody types by chance: four rarely used control keys in a
# row (the engine holds a key back only while it could start the sequence: a lone Ctrl-^ waits
# for the next key).
TERMINAL_DETACH_KEYS = "ctrl-^,ctrl-],ctrl-@,ctrl-_"
# What the main process prints on the container's TTY when its login shell has ended, with the
# shell's exit code: an OSC sequence, which a terminal would ignore (runs.MainTTY cuts it out).
_ENDED_NAME = "777;muelle-shell-ended;"
MAIN_SHELL_ENDED = b"\x1b]" + _ENDED_NAME.encode()
MAIN_SHELL_ENDED_END = b"\x07"


def folded_for_end_marker(data: bytes) -> bytes:
    """`data` as the end marker is looked for in it (MAIN_SHELL_ENDED is lower case): whatever
    its case, since after a student's `stty olcuc` the TTY prints the marker in capitals."""
    return data.lower()


# The main process of a sandbox whose terminals are not held (terminal_holder.py): the first
# terminal's login shell runs on the container's own TTY, reached with an attach made before the
# start, so a student's first prompt costs the engine no exec (no runc, no exec process: a
# burst of arrivals starts about a quarter more sandboxes per second, docs/reliability.md).
# When that shell ends the main process says so and goes on as COMMAND did, without the TTY, so
# the container (and the student's other terminals) stay. A shell killed at its prompt leaves
# the TTY to a process group that is gone, so the main process writes from the background: with
# `stty tostop` that write would stop it and the terminal would never learn the end. Hence its
# own stderr goes nowhere (bash's "Killed" report of its child, which an exec'd shell never had;
# the shell gets the TTY back as fd 2) and SIGTTOU is ignored before the marker. The marker's
# name goes to printf as an argument, apart from its escapes: the command line is readable in
# the sandbox, and `echo -e` of it must not print a marker that ends the student's terminal.
MAIN_SHELL_COMMAND = [
    "/bin/bash",
    "-c",
    "exec 3>&2 2>/dev/null; /bin/bash -l 2>&3 3>&-; code=$?; trap '' TTOU; "
    f"printf '\\033]%s%d\\007' '{_ENDED_NAME}' \"$code\"; "
    "exec sleep infinity </dev/null >/dev/null 3>&-",
]


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    hostname: str
    labels: dict[str, str]
    image: str
    command: list[str]
    user: str
    working_dir: str
    environment: dict[str, str]
    host_config: dict[str, Any] = field(default_factory=dict)
    # The main process on a TTY with stdin open: MAIN_SHELL_COMMAND's shell, attached to.
    main_shell: bool = False


def instance_slug() -> str:
    """SANDBOX_INSTANCE made safe for a container name."""
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", settings.SANDBOX_INSTANCE)[:32] or "default"


def managed_filters(*extra: str) -> dict[str, list[str]]:
    """Engine list filter for this instance's sandboxes."""
    return {
        "label": [
            f"{LABEL_MANAGED}=1",
            f"{LABEL_INSTANCE}={settings.SANDBOX_INSTANCE}",
            f"{LABEL_ROLE}={ROLE}",
            *extra,
        ]
    }


def store_id() -> str:
    from django.db import connection

    db = connection.settings_dict
    key = f"{db.get('ENGINE')}|{db.get('HOST')}|{db.get('PORT')}|{db.get('NAME')}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def container_name(token: str, owner: str = "") -> str:
    # The owner part is a prefix of an opaque hash, so a crashed process's containers can still
    # be told apart by eye; a pool container is renamed when it is handed out.
    who = owner[:12] if owner else "pool"
    return f"muelle-{instance_slug()}-{who}-{token}"


def sandbox_env() -> dict[str, str]:
    """The whole environment of a sandbox: nothing comes from the web process. With the Docker
    gateway on, `docker` in the sandbox talks to the student's own socket (DOCKER_HOST)."""
    env = {"TERM": TERM, "LANG": LANG, "HOME": settings.SANDBOX_WORKDIR, "PATH": PATH}
    if settings.DOCKER_GATEWAY_ENABLED:
        from sandbox.gateway import sandbox_docker_env

        env.update(sandbox_docker_env())
    return env


def gateway_mount(folder: Path) -> dict[str, Any]:
    """The one host path a sandbox sees: its own gateway folder, read-only. The folder must be a
    direct child of DOCKER_GATEWAY_SOCKET_DIR, which never holds the engine's socket."""
    root = Path(settings.DOCKER_GATEWAY_SOCKET_DIR).resolve()
    source = Path(folder).resolve()
    engine_socket = Path(settings.DOCKER_GATEWAY_ENGINE_SOCKET).resolve()
    if source.parent != root or engine_socket.is_relative_to(source):
        raise ValueError(f"{folder} is not a gateway folder under {root}")
    return {
        "Type": "bind",
        "Source": str(source),
        "Target": settings.DOCKER_GATEWAY_MOUNT_TARGET,
        "ReadOnly": True,
        # No propagation of mounts either way between the host and the sandbox.
        "BindOptions": {"Propagation": "rprivate"},
    }


def _uid_gid() -> tuple[str, str]:
    uid, _, gid = settings.SANDBOX_USER.partition(":")
    return uid.strip(), (gid or uid).strip()


def tmpfs_mounts() -> dict[str, str]:
    # A tmpfs over a path the image has inherits that path's mode (root 0755), so the sandbox
    # user could not write there: give uid/gid/mode explicitly. The home is `exec` because
    # students run their own scripts; /tmp stays noexec (Docker's default for tmpfs).
    # Settings hold bytes (an override may still say "4m"); the kernel reads size= with its own
    # grammar (no "MB", no fractions), so it gets format_size's exact form, e.g. "64m".
    uid, gid = _uid_gid()
    workdir_size = format_size(parse_size(settings.SANDBOX_WORKDIR_SIZE))
    tmp_size = format_size(parse_size(settings.SANDBOX_TMP_SIZE))
    return {
        settings.SANDBOX_WORKDIR: (
            f"rw,nosuid,nodev,exec,size={workdir_size},uid={uid},gid={gid},mode=0700"
        ),
        "/tmp": f"rw,nosuid,nodev,noexec,size={tmp_size},mode=1777",  # noqa: S108
    }


def host_config(gateway_folder: Path | None = None) -> dict[str, Any]:
    """Keyword arguments for APIClient.create_host_config."""
    # The SDK takes bytes as an int; its own parser for text ("256m") is another grammar.
    memory = parse_size(settings.SANDBOX_MEMORY)
    config: dict[str, Any] = {
        "network_mode": settings.SANDBOX_NETWORK,
        "read_only": settings.SANDBOX_READ_ONLY,
        "tmpfs": tmpfs_mounts(),
        "cap_drop": ["ALL"],
        # No seccomp entry: the engine's default profile applies (never "unconfined").
        "security_opt": ["no-new-privileges"],
        "init": True,
        "mem_limit": memory,
        # Equal to the memory limit: no swap on top of it.
        "memswap_limit": memory,
        "nano_cpus": int(settings.SANDBOX_CPUS * 1_000_000_000),
        "pids_limit": settings.SANDBOX_PIDS_LIMIT,
        "ulimits": [
            {"Name": "nofile", "Soft": settings.SANDBOX_NOFILE, "Hard": settings.SANDBOX_NOFILE}
        ],
        # No log: the main process's output is the first terminal's (MAIN_SHELL_COMMAND), and
        # what a student types and sees is not written to the engine's disk. (Their own
        # containers are logged, capped by SANDBOX_LOG_MAX_SIZE: sandbox/gateway/policy.py.)
        "log_config": {"Type": "none"},
        "restart_policy": {"Name": "no"},
        "privileged": False,
        "ipc_mode": "private",
        # Deliberately absent: binds, devices, pid/uts/userns host modes, port bindings. The only
        # host path mounted is the student's gateway folder, read-only (never the engine socket);
        # the other mount is the project volume, which the engine keeps under its own root.
    }
    if gateway_folder is not None:
        # The project folder comes with the gateway: students bind it in their own containers
        # (sandbox/project_volume.py says why it is a volume and not a host folder).
        config["mounts"] = [
            gateway_mount(gateway_folder),
            project_volume.mount(Path(gateway_folder).name),
        ]
    return config


def new_spec(
    *, owner: str, created: int, expires: int, pool: bool, gateway_folder: Path | None = None
) -> ContainerSpec:
    token = secrets.token_hex(4)
    labels = {
        LABEL_MANAGED: "1",
        LABEL_INSTANCE: settings.SANDBOX_INSTANCE,
        LABEL_ROLE: ROLE,
        LABEL_OWNER: owner,
        LABEL_CREATED: str(created),
        LABEL_EXPIRES: str(expires),
        LABEL_STORE: store_id(),
    }
    if pool:
        labels[LABEL_POOL] = "1"
    if gateway_folder is not None:
        labels[LABEL_GATEWAY] = Path(gateway_folder).name
    return ContainerSpec(
        name=container_name(token, owner),
        # Random, never derived from the owner: the prompt shows it.
        hostname=f"muelle-{secrets.token_hex(3)}",
        labels=labels,
        image=settings.SANDBOX_IMAGE,
        # Held terminals attach to dtach with an exec each (terminal_holder.py): no main shell.
        command=list(COMMAND if settings.TERMINAL_HELD_SHELLS else MAIN_SHELL_COMMAND),
        main_shell=not settings.TERMINAL_HELD_SHELLS,
        user=settings.SANDBOX_USER,
        working_dir=settings.SANDBOX_WORKDIR,
        environment=sandbox_env(),
        host_config=host_config(gateway_folder),
    )
