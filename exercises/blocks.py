"""Runs a lesson's runnable blocks (```bash ejecutable) in order in a fresh sandbox, as a student
pressing «Ejecutar» on each would, and tells which fail (manage.py run_blocks; CI runs it over the
whole course so a lesson's body cannot rot unseen).

How a block runs: «Ejecutar» types the block into the student's interactive bash. Here each block
is one exec of `bash` as the student, in a sandbox with their gateway (so `docker` works as in the
terminal), with the folder and exported variables the previous block left: a `cd` or an `export`
in one block still holds in the next, as in the terminal. The block runs under `set -e`, so a
failing line in the middle of a block is not hidden by a later one that succeeds; a block marked
`falla` must end with a non-zero status instead. Blocks marked `interactivo` (a TTY, a person, or
no end: `docker run -it`, `logs -f`) are listed as skipped; blocks without `ejecutable` are
copy-only and never run. Each block has a time limit.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from lessons import catalog
from lessons.codeblocks import EXPECTED_FAILURE_OPTION, INTERACTIVE_OPTION, RUNNABLE_OPTION
from sandbox import engine
from sandbox.terminals import owner_key

DEFAULT_TIMEOUT = 120.0
OUTPUT_CAP = 1024 * 1024
SHOWN_OUTPUT = 2000

# $1: the block. The folder and exported variables of the previous block are restored first and
# saved on exit (also when `set -e` stops the block), in a folder of the sandbox's /tmp.
WRAPPER = r"""
state=/tmp/.muelle-bloques
mkdir -p "$state"
if [ -f "$state/pwd" ]; then cd "$(cat "$state/pwd")" 2>/dev/null || cd "$HOME"; fi
if [ -f "$state/env" ]; then . "$state/env" 2>/dev/null; fi
trap 'pwd > "$state/pwd"; export -p > "$state/env"' EXIT
set -e
eval "$1"
"""


@dataclass(frozen=True)
class Block:
    path: str  # as shown to the instructor
    line: int  # of the opening fence
    code: str
    expect_failure: bool
    interactive: bool


@dataclass(frozen=True)
class BlockResult:
    block: Block
    status: str  # "ok", "failed", "skipped"
    exit_code: int | None = None
    timed_out: bool = False
    output: str = ""  # the tail of what it printed, for failures

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def display_path(path: Path) -> str:
    """The path relative to the working folder when it lies inside it, else absolute: either
    way it can be pasted into an editor or a shell."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)


def runnable_blocks(lesson: catalog.Lesson) -> list[Block]:
    """The lesson's `ejecutable` blocks, in order."""
    if lesson.scan is None:
        return []
    path = display_path(lesson.path)
    return [
        Block(
            path=path,
            line=fence.line,
            code=fence.code,
            expect_failure=EXPECTED_FAILURE_OPTION in fence.options,
            interactive=INTERACTIVE_OPTION in fence.options,
        )
        for fence in lesson.scan.fences
        if RUNNABLE_OPTION in fence.options
    ]


def _tail(output: bytes) -> str:
    text = output.decode("utf-8", "replace").strip()
    return text if len(text) <= SHOWN_OUTPUT else "…" + text[-SHOWN_OUTPUT:]


async def run_block(sandbox: engine.Sandbox, block: Block, timeout: float) -> BlockResult:
    if block.interactive:
        return BlockResult(block, "skipped")
    result = await engine.run(
        sandbox,
        ["bash", "-c", WRAPPER, "muelle-bloque", block.code],
        timeout=timeout,
        max_output=OUTPUT_CAP,
    )
    if result.timed_out:
        return BlockResult(block, "failed", None, True, _tail(result.output))
    # Past the output cap the stream is dropped and the status unknown: a failure to look at.
    succeeded = result.exit_code == 0 and not result.truncated
    if block.expect_failure:
        succeeded = result.exit_code not in (0, None)
    return BlockResult(
        block, "ok" if succeeded else "failed", result.exit_code, False, _tail(result.output)
    )


async def run_lesson(
    lesson: catalog.Lesson,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    on_result: Callable[[BlockResult], None] | None = None,
) -> list[BlockResult]:
    """Every runnable block of `lesson`, in order, in one fresh sandbox of its own (removed
    after, with everything the blocks made through its gateway). Raises
    engine.EngineUnavailable / CapacityFull when no sandbox can be had."""
    blocks = runnable_blocks(lesson)
    if not blocks:
        return []
    owner = owner_key("run_blocks:" + secrets.token_urlsafe(16))
    sandbox = await engine.acquire(owner)
    results = []
    try:
        for block in blocks:
            result = await run_block(sandbox, block, timeout)
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        await engine.remove_now(sandbox.container_id, end_gateway_of=owner)
    return results


async def run_lessons(
    lessons: Sequence[catalog.Lesson],
    *,
    parallel: int = 1,
    timeout: float = DEFAULT_TIMEOUT,
    on_result: Callable[[BlockResult], None] | None = None,
) -> dict[str, list[BlockResult] | Exception]:
    """Each lesson's results by lesson path (or the engine error that stopped it), `parallel`
    lessons at a time, each in its own sandbox."""
    limit = asyncio.Semaphore(max(1, parallel))

    async def one(lesson: catalog.Lesson) -> list[BlockResult] | Exception:
        async with limit:
            try:
                return await run_lesson(lesson, timeout=timeout, on_result=on_result)
            except (engine.EngineUnavailable, engine.CapacityFull) as exc:
                return exc

    try:
        outcomes = await asyncio.gather(*(one(lesson) for lesson in lessons))
    finally:
        # acquire() started the reaper on this loop; the command's loop ends here.
        await engine.stop_background_tasks()
    return {
        display_path(lesson.path): outcome
        for lesson, outcome in zip(lessons, outcomes, strict=True)
    }


def describe(result: BlockResult) -> str:
    """One failing block for the instructor: where, why, and what it printed."""
    block = result.block
    where = f"{block.path}:{block.line}"
    if result.timed_out:
        why = _("no terminó en el tiempo límite (márcalo «interactivo» si no termina nunca)")
    elif block.expect_failure:
        why = _("está marcado «falla» pero terminó bien (código 0)")
    elif result.exit_code is None:
        why = _("su salida es demasiado larga")
    else:
        why = _("terminó con el código %(code)s") % {"code": result.exit_code}
    output = result.output or _("(sin salida)")
    indented = "\n".join("    " + line for line in output.splitlines())
    return _("%(where)s: el bloque %(why)s. Salida:\n%(output)s") % {
        "where": where,
        "why": why,
        "output": indented,
    }
