"""Muelle's check agent: one long-lived process per sandbox that runs a check's steps.

Muelle starts it once (sandbox/check_agent.py), in one `docker exec` whose stdin and stdout are
the only channel: length-prefixed JSON frames (4-byte big-endian length, then UTF-8 JSON). Each
«Comprobar» then costs a frame each way instead of an exec (exec_create + start + inspect).

The steps are the ones exercises/runner.py defines, with the same semantics as its one-exec
script: "sh" runs an instructor's command as `/bin/sh -c <command>`; "read" runs `cat -- <path>`;
"exists" is `test -e <path>`; "http" is a GET to the sandbox's own localhost; "ps" lists /proc.
Every variable part is an argv item or a Python value, never shell text. Each command runs in a
session (process group) of its own, killed whole at the time limit or when its output passes the
cap.

Why the student (same uid, with a shell in the same container) cannot talk to Muelle in its
place: the pipes are reachable only through /proc/<pid>/fd, and this process is not dumpable
(the interpreter is an execute-only copy, which the kernel marks undumpable at exec, and the
first thing done here is prctl(PR_SET_DUMPABLE, 0) in case it was not), so the kernel refuses
the student /proc/<pid>/fd, /proc/<pid>/mem and ptrace. The student can kill it: Muelle sees the
exec end and starts another on the next check. The file itself is root's and read-only.

Standard library only: started with `-I -S` (no site, no environment, no user paths).
"""

import base64
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

HEADER = struct.Struct(">I")
MAX_REQUEST = 1 << 20
KILLED = 137  # what `timeout -s KILL` returns, which the judges expect on a timeout
CHUNK = 65536


def undumpable() -> int:
    """Refuses /proc/<pid>/fd and ptrace to processes of the same uid; returns the state."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
        return int(libc.prctl(3, 0, 0, 0, 0))  # PR_GET_DUMPABLE
    except Exception:
        return -1


def read_exact(size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(IN, size - len(data))
        if not chunk:
            sys.exit(0)  # Muelle hung up: nothing more to do
        data += chunk
    return bytes(data)


def send(message: dict) -> None:
    body = json.dumps(message, separators=(",", ":")).encode()
    data = memoryview(HEADER.pack(len(body)) + body)
    while data:
        written = os.write(OUT, data)
        data = data[written:]


def exit_status(code: int) -> int:
    return 128 - code if code < 0 else code


def drain(fd: int, output: bytearray, cap: int) -> bool:
    """Reads what is already in the pipe; True when past the cap."""
    while len(output) <= cap:
        try:
            chunk = os.read(fd, CHUNK)
        except BlockingIOError:
            return False
        if not chunk:
            return False
        output += chunk
    return True


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def run(argv: list, limit: float, cap: int) -> list:
    """[exit code, output, timed out, truncated] of argv, stdout and stderr together."""
    deadline = time.monotonic() + limit
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=write_end,
            start_new_session=True,  # its own process group, killed whole
        )
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        return [127, str(exc).encode(), False, False]
    os.close(write_end)
    os.set_blocking(read_end, False)
    output = bytearray()
    timed_out = truncated = False
    watched = [read_end, WAKE]
    try:
        while True:
            if process.poll() is not None:
                # Exited: take what it wrote, but never wait for a child it left behind
                # (`sleep 100 &`), as the one-exec runner never did.
                truncated = drain(read_end, output, cap)
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _w, _x = select.select(watched, [], [], remaining)
            if WAKE in ready:
                try:
                    os.read(WAKE, 512)
                except BlockingIOError:
                    pass
            if read_end in ready:
                try:
                    chunk = os.read(read_end, CHUNK)
                except BlockingIOError:
                    chunk = None
                if chunk == b"":
                    watched = [WAKE]  # all writers gone; wait for the exit (SIGCHLD)
                elif chunk:
                    output += chunk
                    if len(output) > cap:
                        truncated = True
                        break
    finally:
        os.close(read_end)
        if timed_out or truncated:
            kill_group(process.pid)
        if process.poll() is None:
            process.wait()
    if timed_out:
        return [KILLED, bytes(output[:cap]), True, False]
    return [exit_status(process.returncode), bytes(output[:cap]), False, truncated]


def http(arg: str, limit: float, cap: int) -> list:
    """GET http://127.0.0.1:PORT/PATH as the student's curl would, raw answer back."""
    port_text, _sp, path = arg.partition(" ")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return [2, b"", False, False]
    if not path.startswith("/") or any(c <= " " or c == "\x7f" for c in path):
        return [2, b"", False, False]
    port = int(port_text)
    deadline = time.monotonic() + limit
    output = bytearray()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=limit) as conn:
            request = f"GET {path} HTTP/1.0\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
            conn.sendall(request.encode())
            while len(output) <= cap:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return [KILLED, bytes(output[:cap]), True, False]
                conn.settimeout(remaining)
                chunk = conn.recv(CHUNK)
                if not chunk:
                    break
                output += chunk
    except TimeoutError:
        return [KILLED, bytes(output[:cap]), True, False]
    except OSError:
        if not output:
            return [7, b"", False, False]
    return [0, bytes(output[:cap]), False, len(output) > cap]


def processes(cap: int) -> list:
    """The records the one-exec runner printed: \\x1c<pid>\\x1c<stat><comm><cmdline>."""
    output = bytearray()
    pids = sorted(name for name in os.listdir("/proc") if name.isdigit())
    for pid in pids:
        output += b"\x1c" + pid.encode() + b"\x1c"
        for name in ("stat", "comm", "cmdline"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as file:
                    output += file.read(CHUNK)
            except OSError:
                pass
    return [0, bytes(output[:cap]), False, len(output) > cap]


def step(op: str, arg: str, limit: float, cap: int) -> list:
    if op == "sh":
        return run(["/bin/sh", "-c", arg], limit, cap)
    if op == "read":
        return run(["cat", "--", arg], limit, cap)
    if op == "exists":
        try:
            os.stat(arg)
        except (OSError, ValueError):
            return [1, b"", False, False]
        return [0, b"", False, False]
    if op == "http":
        return http(arg, limit, cap)
    if op == "ps":
        return processes(cap)
    return [255, b"", False, False]


def answer(request: object) -> dict:
    if not isinstance(request, dict):
        return {"id": None, "error": "bad request"}
    ident, steps = request.get("id"), request.get("steps")
    limit, cap = request.get("limit"), request.get("cap")
    if (
        not isinstance(ident, int)
        or not isinstance(steps, list)
        or not isinstance(limit, int | float)
        or not isinstance(cap, int)
        or not 0 < limit <= 3600
        or not 0 < cap <= 16 << 20
        or not all(
            isinstance(s, list) and len(s) == 2 and all(isinstance(p, str) for p in s)
            for s in steps
        )
    ):
        return {"id": ident if isinstance(ident, int) else None, "error": "bad request"}
    results = []
    for op, arg in steps:
        code, output, timed_out, truncated = step(op, arg, float(limit), cap)
        results.append([code, base64.b64encode(output).decode(), timed_out, truncated])
    return {"id": ident, "self": [os.getpid(), os.getppid()], "results": results}


def main() -> None:
    dumpable = undumpable()
    # A child process never gets Muelle's pipes: it gets /dev/null or a pipe of its own.
    global IN, OUT, WAKE
    IN, OUT = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    os.set_inheritable(IN, False)
    os.set_inheritable(OUT, False)
    # SIGCHLD wakes the select() of a running command the moment it exits.
    WAKE, wake_write = os.pipe()
    os.set_blocking(WAKE, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    send({"hello": "muelle-check-agent", "version": 1, "pid": os.getpid(), "dumpable": dumpable})
    while True:
        (size,) = HEADER.unpack(read_exact(HEADER.size))
        if size > MAX_REQUEST:
            sys.exit(2)
        try:
            request = json.loads(read_exact(size))
        except ValueError:
            request = None
        send(answer(request))


IN = OUT = WAKE = -1

if __name__ == "__main__":
    try:
        main()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
