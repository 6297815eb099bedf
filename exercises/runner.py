"""Runs the steps an exercise's checks need in the student's sandbox: in its resident check
agent (sandbox/check_agent.py: no exec per click), or else all in ONE exec, as below.

A class checking at once is bound by how many execs the engine can start (each one forks runc
inside dockerd); one exec per click instead of one per check keeps "Comprobar" under a second
with 20 students on a 2-core machine (bench/exercise_checks.py).

The exec runs RUNNER, a fixed script, with every variable part passed as a separate argv item:

    /bin/sh -c RUNNER muelle-comprobar <nonce> <limit> <op> <arg> [<op> <arg> ...]

so an instructor command still runs exactly as `/bin/sh -c <command>`, a file path is only ever
an argument (`test -e path`, `cat -- path`), and nothing the student typed is ever in it. The
script frames each step's output with a random nonce and the step's exit code, and limits each
command's time (timeout -s KILL). When the framing comes back incomplete (a step flooded the
output past the cap, or the exec ran out of time), every step runs again in an exec of its own,
capped on its own, so one bad step cannot hide the others' results. Few forks per step on
purpose: each one costs inside a CPU-limited container.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from sandbox import check_agent, engine

logger = logging.getLogger(__name__)

# Ops: "sh" (an instructor command), "exists" (a path), "read" (a path), "ps" (no argument),
# "http" ("PORT /path": a GET to the sandbox's own localhost, as the student's curl would do).
OPS = {"sh", "exists", "read", "ps", "http"}

# Exit status of a step killed by `timeout -s KILL` (128 + SIGKILL).
KILLED = 137

RUNNER = r"""
exec 2>/dev/null
# bash's /dev/tcp: no HTTP client is needed in the image. Port and path are arguments ($1, $2;
# the path was validated: printable ASCII, no spaces), never code.
http='exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 7
printf "GET %s HTTP/1.0\r\nHost: localhost:%s\r\nConnection: close\r\n\r\n" "$2" "$1" >&3
cat <&3'
nonce=$1 limit=$2
shift 2
printf '\036%s:self:%s:%s\037' "$nonce" "$$" "$PPID"
i=0
while [ "$#" -ge 2 ]; do
  op=$1 arg=$2
  shift 2
  printf '\036%s:%s\037' "$nonce" "$i"
  case $op in
    sh) timeout -s KILL "$limit" /bin/sh -c "$arg" </dev/null 2>&1; code=$? ;;
    exists) test -e "$arg"; code=$? ;;
    read) timeout -s KILL "$limit" cat -- "$arg" </dev/null 2>&1; code=$? ;;
    http)
      timeout -s KILL "$limit" bash -c "$http" muelle-http "${arg%% *}" "${arg#* }" </dev/null
      code=$? ;;
    ps)
      for d in /proc/[0-9]*; do
        printf '\034%s\034' "${d#/proc/}"
        cat "$d/stat" "$d/comm" "$d/cmdline"
      done
      code=0 ;;
    *) code=255 ;;
  esac
  printf '\036%s:%s:%s\037' "$nonce" "$i" "$code"
  i=$((i + 1))
done
"""


@dataclass(frozen=True)
class Step:
    op: str
    arg: str = ""

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown step {self.op!r}")


@dataclass(frozen=True)
class StepResult:
    exit_code: int | None  # None when the step did not finish
    output: bytes  # stdout+stderr, at most the output cap
    timed_out: bool
    truncated: bool
    runner: tuple[int, int] = (0, 0)  # pids of the runner shell and its parent (for "ps")


def _argv(nonce: str, steps: Sequence[Step]) -> list[str]:
    argv = ["/bin/sh", "-c", RUNNER, "muelle-comprobar", nonce, f"{settings.SANDBOX_RUN_TIMEOUT:g}"]
    for step in steps:
        argv += [step.op, step.arg]
    return argv


def _parse(run: engine.RunResult, nonce: str, count: int) -> list[StepResult] | None:
    """Each step's result from the framed output; None if the framing is incomplete, except for
    a lone step cut short (too much output, or out of time), which gets what it wrote."""
    output = run.output
    tag = re.escape(nonce.encode())
    me = re.search(rb"\x1e" + tag + rb":self:(\d+):(\d+)\x1f", output)
    if me is None:
        return None
    runner = (int(me.group(1)), int(me.group(2)))
    cap = settings.SANDBOX_RUN_OUTPUT_CAP
    results = []
    position = me.end()
    for index in range(count):
        opening = re.compile(rb"\x1e" + tag + f":{index}".encode() + rb"\x1f").search(
            output, position
        )
        if opening is None:
            return None
        closing = re.compile(rb"\x1e" + tag + f":{index}:".encode() + rb"(\d+)\x1f").search(
            output, opening.end()
        )
        if closing is None:
            if count == 1 and (run.truncated or run.timed_out):
                body = output[opening.end() :]
                cut = run.truncated or len(body) > cap
                return [StepResult(None, body[:cap], run.timed_out and not cut, cut, runner)]
            return None
        body = output[opening.end() : closing.start()]
        code = int(closing.group(1))
        results.append(
            StepResult(
                exit_code=code,
                output=body[:cap],
                timed_out=code == KILLED,
                truncated=len(body) > cap,
                runner=runner,
            )
        )
        position = closing.end()
    return results


async def _exec(sandbox: engine.Sandbox, steps: Sequence[Step]) -> list[StepResult] | None:
    nonce = secrets.token_hex(8)
    run = await engine.run(
        sandbox,
        _argv(nonce, steps),
        timeout=settings.SANDBOX_RUN_TIMEOUT * len(steps) + 5,
        max_output=(settings.SANDBOX_RUN_OUTPUT_CAP + 256) * (len(steps) + 1),
    )
    return _parse(run, nonce, len(steps))


async def _agent(sandbox: engine.Sandbox, steps: Sequence[Step]) -> list[StepResult] | None:
    """The steps run by the sandbox's resident agent (no exec at all); None without one."""
    try:
        reply = await check_agent.run_steps(
            sandbox,
            [(step.op, step.arg) for step in steps],
            limit=settings.SANDBOX_RUN_TIMEOUT,
            cap=settings.SANDBOX_RUN_OUTPUT_CAP,
        )
    except check_agent.AgentUnavailable as exc:
        logger.info("checks of %s run without agent: %s", sandbox.name, exc)
        return None
    return [
        StepResult(s.exit_code, s.output, s.timed_out, s.truncated, reply.agent)
        for s in reply.steps
    ]


async def run_steps(sandbox: engine.Sandbox, steps: Sequence[Step]) -> list[StepResult]:
    """One result per step, in order: from the resident agent, or (an image without one, an
    agent that misbehaved) from one exec. Engine errors (EngineUnavailable, SandboxGone...)
    propagate."""
    if not steps:
        return []
    results = await _agent(sandbox, steps)
    if results is not None:
        return results
    results = await _exec(sandbox, steps)
    if results is not None:
        return results
    # The batch lost its framing (a step flooded the output or got stuck): give each step an
    # exec of its own, so the others still get their results.
    separate = []
    for step in steps:
        alone = await _exec(sandbox, [step])
        separate.append(alone[0] if alone else StepResult(None, b"", True, False))
    return separate


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    name: str
    cmdline: str


def parse_processes(output: bytes) -> list[Process]:
    """Processes from the "ps" step: `\\x1c<pid>\\x1c<stat>\\n<comm>\\n<cmdline>` records."""
    processes = []
    for pid_text, stat, rest in _records(output):
        _sep, _paren, after = stat.rpartition(b")")
        fields = after.split()
        if not pid_text.isdigit() or len(fields) < 2 or not fields[1].isdigit():
            continue
        name, _nl, cmdline = rest.partition(b"\n")
        processes.append(
            Process(
                pid=int(pid_text),
                ppid=int(fields[1]),
                name=name.decode("utf-8", "replace"),
                cmdline=cmdline.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace"),
            )
        )
    return processes


def _records(output: bytes) -> list[tuple[bytes, bytes, bytes]]:
    parts = output.split(b"\x1c")
    records = []
    # parts: ["", pid, stat+comm+cmdline, pid, ...]
    for index in range(1, len(parts) - 1, 2):
        stat, _nl, rest = parts[index + 1].partition(b"\n")
        records.append((parts[index], stat, rest))
    return records


def student_processes(result: StepResult) -> list[Process]:
    """The sandbox's processes without the checker's own (the runner shell, whatever started it:
    engine.run's timeout, and everything the runner started) and without the sandbox's own:
    docker-init and the main process (hardening.MAIN_SHELL_COMMAND, whose command line holds
    `sleep infinity`, or that `sleep infinity` itself once its shell has ended). The login shell
    under the main process is the student's."""
    processes = parse_processes(result.output)
    runner, launcher = result.runner
    children: dict[int, list[int]] = {}
    for process in processes:
        children.setdefault(process.ppid, []).append(process.pid)
    excluded = {launcher, 1}
    if children.get(1):
        # The main process is docker-init's first child: the lowest pid of its children (the
        # student's orphans come later, and a wrapped pid counter starts again at 300 while
        # the main process has one of the first pids of its namespace).
        excluded.add(min(children[1]))
    pending = [runner]
    while pending:
        pid = pending.pop()
        if pid not in excluded:
            excluded.add(pid)
            pending.extend(children.get(pid, []))
    return [p for p in processes if p.pid not in excluded]
