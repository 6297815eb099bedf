"""The only module that talks to Docker (Docker SDK for Python, docker 7).

CONTRACT (filled in by the sandbox-core work; the terminal consumer codes against it):

Every blocking SDK call runs in a dedicated ThreadPoolExecutor (settings.SANDBOX_DOCKER_THREADS),
never on the event loop and never on asyncio's default executor.

    class EngineUnavailable(Exception)          # no engine answers; .message is Spanish
    class CapacityFull(Exception)               # global cap reached (callers queue)

    @dataclass(frozen=True)
    class Sandbox:
        container_id: str
        owner: str                 # opaque owner key (hash of the browser session)
        created_at: datetime
        expires_at: datetime       # hard cap (SANDBOX_MAX_LIFETIME)

    @dataclass(frozen=True)
    class RunResult:
        exit_code: int | None      # None when timed out / killed
        output: bytes              # stdout+stderr, at most max_output bytes
        timed_out: bool
        truncated: bool

    class TTY:                     # an interactive shell inside a sandbox
        async def read(self) -> bytes        # b"" when the shell exited
        async def write(self, data: bytes) -> None
        async def resize(self, rows: int, cols: int) -> None
        async def close(self) -> None        # idempotent; frees every fd

    async def acquire(owner: str) -> Sandbox          # reuse owner's live sandbox or make one
    async def get(owner: str) -> Sandbox | None       # owner's live sandbox, if any
    async def open_tty(sandbox: Sandbox, rows: int = 24, cols: int = 80) -> TTY
    async def run(sandbox: Sandbox, argv: list[str], *, timeout: float | None = None,
                  max_output: int | None = None, stdin: bytes | None = None) -> RunResult
    async def release(sandbox: Sandbox) -> None        # remove the container (never blocks caller)
    async def state(sandbox: Sandbox) -> ContainerState  # running / oom_killed / exit code
    async def list_managed() -> list[Sandbox]
    async def engine_status() -> EngineStatus          # for the health endpoint
"""
