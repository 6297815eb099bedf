"""The public API of sandbox/ for the rest of Muelle (exercises/, tutorial/, the workspace,
management commands, tests, bench): what other code calls to get a student a sandbox and run
things in it. It has no code of its own; each name lives in the part of sandbox/ that owns it:

    docker_api/    the thin wrapper around the Docker SDK (the only importer of `docker`)
    sandboxes.py   a container plus its row: create, assign, remove, list; owner locks
    leases.py      hand-out to students: acquire, get, touch, expiry, release
    capacity.py    the server's cap and its FIFO line;   pool.py   the warm pool
    background.py  reaper + warm-pool filler per event loop;   reaper.py   the clean-up pass
    runs.py        the interactive shell (TTY) and one-off commands (run), container state
    status.py      what the health endpoint reports
    docker_api/images.py   image calls for build_images and the course images

Why a re-export module and not every caller importing the parts: these names are the contract
that code outside sandbox/ and the tests are written against (and that the terminal tests
replace with fakes as a whole); the parts it re-exports import each other directly and never
this module, so it can't close an import circle (tests/architecture checks there is none).

CONTRACT (the terminal consumer and everything else code against this; nothing else imports
`docker`):

Every blocking SDK call runs in a dedicated ThreadPoolExecutor (settings.SANDBOX_DOCKER_THREADS),
never on the event loop and never on asyncio's default executor. Interactive streams are read
with loop.sock_recv on the raw, non-blocking exec socket: no thread per idle terminal.

    class EngineUnavailable(Exception)          # no engine answers; .message is Spanish
    class ImageMissing(EngineUnavailable)       # the course image is not built; .message
    class CapacityFull(Exception)               # global cap reached and no on_queue given
    class SessionLimitReached(Exception)        # SANDBOX_MAX_PER_SESSION reached; .message
    class SandboxGone(Exception)                # the container is not there (any more)

    @dataclass(frozen=True)
    class Sandbox:
        container_id: str
        owner: str                 # opaque owner key (hash of the browser session)
        created_at: datetime
        expires_at: datetime       # hard cap (SANDBOX_MAX_LIFETIME)
        name: str = ""             # container name, for logs

    @dataclass(frozen=True)
    class RunResult:
        exit_code: int | None      # None when timed out / cut off at the output cap
        output: bytes              # stdout+stderr interleaved, at most max_output bytes
        timed_out: bool
        truncated: bool

    @dataclass(frozen=True)
    class ContainerState: exists, running, status, oom_killed, exit_code, oom_kills
        # oom_killed: the main process died of OOM, or (while running) the OOM killer took any
        # process in the sandbox; oom_kills counts those, so a caller can spot a new one.

    @dataclass(frozen=True)
    class Expiry: idle_at, lifetime_at (datetimes); .reason ("idle"|"lifetime") and .at: first end

    @dataclass(frozen=True)
    class EngineStatus: available, message, version, api_version, image, image_present,
                        live, pool

    class TTY:                     # an interactive login shell inside a sandbox
        exit_code: int | None                # set once read() returned b""
        async def read(self) -> bytes        # b"" when the shell exited or close() was called
        async def write(self, data: bytes) -> None   # silently dropped once the shell is gone
        async def resize(self, rows: int, cols: int) -> None
        async def close(self) -> None        # idempotent; frees every fd

    async def acquire(owner: str, *, session: str | None = None,
                      on_queue: Callable[[int], Awaitable[None]] | None = None) -> Sandbox
        # reuse owner's live sandbox, or take one from the warm pool, or start one. When the
        # global cap is reached: without on_queue raise CapacityFull at once; with on_queue wait
        # FIFO, calling on_queue(position) whenever the position changes (1 = next).
    async def get(owner: str) -> Sandbox | None       # owner's live sandbox, if any
    async def open_tty(sandbox: Sandbox, rows: int = 24, cols: int = 80) -> TTY
    async def run(sandbox: Sandbox, argv: list[str], *, timeout: float | None = None,
                  max_output: int | None = None, stdin: bytes | None = None) -> RunResult
    async def release(sandbox: Sandbox) -> None        # schedules removal; ends the gateway
    async def touch(sandbox: Sandbox) -> None          # record activity (idle timeout)
    async def expiry(sandbox: Sandbox) -> Expiry       # idle and lifetime deadlines
    async def state(sandbox: Sandbox) -> ContainerState  # running / oom_killed / exit code
    async def list_managed() -> list[Sandbox]          # every sandbox of this instance
    async def engine_status() -> EngineStatus          # for the health endpoint
    def ensure_background_tasks() -> None              # reaper + warm pool on this event loop
    async def stop_background_tasks() -> None          # tests / orderly shutdown of one loop

Also here, for the rest of sandbox/, management commands and tests: create(), to_sandbox(),
remove_now(), call_sync(), ping(), BOOT_ID and the image helpers.
"""

from __future__ import annotations

from sandbox.background import ensure_background_tasks, stop_background_tasks
from sandbox.capacity import CapacityFull
from sandbox.docker_api.client import (
    EngineUnavailable,
    ImageMissing,
    SandboxGone,
    call_sync,
    ping,
)
from sandbox.docker_api.containers import ContainerState
from sandbox.docker_api.images import (
    BUILD_CONTAINER_PREFIX,
    StepFailed,
    build_image,
    image_id,
    image_labels,
    image_size,
    import_rootfs,
    import_tar,
    read_image_file,
    registry_answers,
    remove_build_leftovers,
    remove_dangling_images,
    remove_unused_image,
    run_and_commit,
    tag_image,
)
from sandbox.leases import (
    Expiry,
    SessionLimitReached,
    acquire,
    expiry,
    get,
    release,
    touch,
)
from sandbox.runs import TTY, RunResult, open_tty, run, state
from sandbox.sandboxes import (
    BOOT_ID,
    Sandbox,
    create,
    list_managed,
    remove_now,
    to_sandbox,
)
from sandbox.status import EngineStatus, engine_status

__all__ = [
    "BUILD_CONTAINER_PREFIX",
    "BOOT_ID",
    "TTY",
    "CapacityFull",
    "ContainerState",
    "EngineStatus",
    "EngineUnavailable",
    "Expiry",
    "ImageMissing",
    "RunResult",
    "Sandbox",
    "SandboxGone",
    "SessionLimitReached",
    "StepFailed",
    "acquire",
    "build_image",
    "call_sync",
    "create",
    "engine_status",
    "ensure_background_tasks",
    "expiry",
    "get",
    "image_id",
    "image_labels",
    "image_size",
    "import_rootfs",
    "import_tar",
    "list_managed",
    "open_tty",
    "ping",
    "read_image_file",
    "registry_answers",
    "release",
    "remove_build_leftovers",
    "remove_dangling_images",
    "remove_now",
    "remove_unused_image",
    "run",
    "run_and_commit",
    "state",
    "stop_background_tasks",
    "tag_image",
    "to_sandbox",
    "touch",
]
