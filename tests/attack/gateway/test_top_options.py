"""`docker top` options against the real engine (sandbox/gateway/top_options.py).

The engine runs the host's `ps` with the student's options and keeps the rows whose PID column
is one of the container's pids. An attack review fooled that reading and listed every process
of the host, with its environment: another student's secrets and the server's own processes.
Here the attack, the common forms a student types, and a fuzz: random option strings built
from `ps`'s own vocabulary (the attack's pieces among them), each one the gateway passes sent
to the real engine, whose answer must hold only the student's own processes."""

from __future__ import annotations

import random
import time
import urllib.parse
from typing import Any

import pytest

from sandbox.gateway import top_options
from sandbox.gateway.errors import GatewayError
from tests.gateway.conftest import IMAGE

pytestmark = pytest.mark.docker

SECRET = "clave-de-alicia-42"  # noqa: S105 - a marker, not a password
# The spy renames itself «! <its host pid>» (a process may write its own comm), so a column
# before PID splits in two and the row still matches; then it waits without making processes.
SPY = (
    "while [ ! -f /tmp/go ]; do sleep 0.2; done; "
    'echo -n "! $(cat /tmp/go)" > /proc/self/comm; mkfifo /tmp/f; read x < /tmp/f'
)
ATTACK = "-eofname,rtprio=PID,args --sort=rtprio,comm e"


def top(student: Any, container: str, options: str) -> tuple[int, Any]:
    query = "?ps_args=" + urllib.parse.quote(options) if options else ""
    return student.raw("GET", f"/v1.41/containers/{container}/top{query}")


@pytest.fixture
def spying(student: Any, other_student: Any) -> tuple[Any, set[str]]:
    """Bob's spy, next to Alice's container with a secret; Bob and his spy's pids."""
    alice, bob = student, other_student
    # Her secret in her environment and command line, and «alicia» as her process's name.
    waits = "echo -n alicia-web > /proc/self/comm; mkfifo /tmp/f; read x < /tmp/f"
    alice.ok("run", "-d", "--name", "web", "-e", f"SECRETO={SECRET}", IMAGE,
             "sh", "-c", f"{waits} # {SECRET}")  # fmt: skip
    bob.ok("run", "-d", "--name", "espia", IMAGE, "sh", "-c", SPY)
    pid = bob.ok("inspect", "-f", "{{.State.Pid}}", "espia").strip()
    bob.ok("exec", "espia", "sh", "-c", f"echo {pid} > /tmp/go")
    deadline = time.monotonic() + 30
    while True:  # until the spy has renamed itself and waits
        status, answer = top(bob, "espia", "-o pid,comm")
        assert status == 200, answer
        if any(row[1].startswith("!") for row in answer["Processes"]):
            break
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)
    return bob, {row[0] for row in answer["Processes"]}


def only_their_own(answer: Any, pids: set[str]) -> None:
    assert "alicia" not in repr(answer)  # her secret, command line and process name
    titles = answer["Titles"]
    column = titles.index("PID")
    previous = None
    for row in answer["Processes"]:
        # A «-» is a thread's row, right after its own process's (the spy's have one thread
        # each, so one such row at most): read as a thread, any other process got through.
        if row[column] == "-":
            assert previous in pids, (titles, row)
        else:
            assert row[column] in pids, (titles, row)
        previous = row[column]


def test_the_review_s_attack_is_refused_and_lists_nothing(spying: tuple[Any, set[str]]) -> None:
    bob, _pids = spying
    # The review's, and a second review's: another column named PID as the first word (uid or
    # a process's age in seconds, matched against the container's pids).
    for options in (ATTACK, "-eoargs=PID", "-eo pid,args --sort=-pid", "-e -o rtprio=PID,args",
                    "-ouid=PID,pid,args axfe", "-oetimes=PID,pid,comm axf"):  # fmt: skip
        status, answer = top(bob, "espia", options)
        assert status == 400, (options, answer)
        assert "Opciones de ps no admitidas" in str(answer)
        assert "alicia" not in repr(answer)
    refused = bob.refused("top", "espia", *ATTACK.split())
    assert "Opciones de ps no admitidas" in refused and SECRET not in refused


# The forms a student types (one spy for all: each is a `ps` on the host, quick).
FORMS = ["", "-ef", "aux", "-aux", "-ax", "-eLf", "-efw", "-o pid,user,args", "-eo pid,comm",
         "axo pid,stat,args", "auxe", "-l", "axjf", "-eF", "-opid,ppid", "axm"]  # fmt: skip


def test_the_forms_a_student_types_show_their_own_processes(
    spying: tuple[Any, set[str]],
) -> None:
    bob, pids = spying
    for options in FORMS:
        status, answer = top(bob, "espia", options)
        assert status == 200, (options, answer)
        assert answer["Processes"], options
        only_their_own(answer, pids)


# ps's vocabulary, with the attack's pieces: letters with and without a dash, formats with
# custom headers and with fields before pid, sorting, selections, stray words.
WORDS = [
    "-e", "-A", "-f", "-F", "-l", "-j", "-y", "-H", "-L", "-T", "-m", "-N", "-q", "-p", "-a",
    "a", "x", "u", "j", "l", "s", "v", "e", "f", "m", "w", "c", "n", "h", "k", "O", "S", "r",
    "aux", "axjf", "auxe", "-ef", "-eLf", "axm", "-eH", "--sort=rtprio", "--sort=-pid", "k-pid",
    "--forest", "--deselect", "-o", "o", "-eo", "axo", "-O", "1", "--", "-", "=", "PID",
]  # fmt: skip
FIELDS = [
    "pid", "ppid", "comm", "fname", "args", "cmd", "user", "uid", "rtprio", "lstart", "stat",
    "tty", "etime", "rtprio=PID", "comm=PID", "args=PID", "pid=X", "%cpu", "tid", "lwp",
]  # fmt: skip


def random_options(rng: random.Random) -> str:
    words = []
    for _ in range(rng.randint(1, 4)):
        word = rng.choice(WORDS)
        if word.endswith("o") and rng.random() < 0.8:
            fields = rng.sample(FIELDS, rng.randint(1, 4))
            if rng.random() < 0.5:
                fields.insert(0, "pid")
            word += (" " if rng.random() < 0.7 else "") + ",".join(fields)
        words.append(word)
    return " ".join(words)


def test_whatever_the_gateway_passes_the_engine_answers_with_their_own_processes_only(
    spying: tuple[Any, set[str]],
) -> None:
    bob, pids = spying
    rng = random.Random(20261206)  # noqa: S311 - a fuzz repeatable from its seed
    passed = refused = 0
    for _ in range(300):
        options = random_options(rng)
        try:
            top_options.checked(options)
        except GatewayError:
            status, answer = top(bob, "espia", options)
            assert status == 400, (options, answer)
            refused += 1
            continue
        status, answer = top(bob, "espia", options)
        if status == 200:  # otherwise ps refused them: its error, about these words
            only_their_own(answer, pids)
            passed += 1
        else:
            assert "alicia" not in repr(answer), options
    # The fuzz reached both sides of the check, and the engine.
    assert passed >= 20 and refused >= 100, (passed, refused)


@pytest.mark.parametrize(
    ("options", "sent"),
    [("", ""), ("-ef", "-ef"), ("  aux  ", "aux"), ("-eo pid,comm", "-eo pid,comm"),
     ("-opid,comm", "-o pid,comm"), ("axo pid,args", "axo pid,args"), ("-aux", "aux")],
)  # fmt: skip
def test_what_goes_to_the_engine(options: str, sent: str) -> None:
    assert top_options.checked(options) == sent


@pytest.mark.parametrize(
    "options",
    [ATTACK, "-eoargs=PID", "-o comm,pid", "-o pid,comm=PID", "--sort=pid", "k pid", "-q 1",
     "p 1", "-p1", "-o", "-o pid -o pid", "aux -o pid,args=x", "h", "-", "--", "x" * 300,
     "-o pid," + ",".join(["comm"] * 30)],
)  # fmt: skip
def test_refused_before_the_engine(options: str) -> None:
    with pytest.raises(GatewayError):
        top_options.checked(options)
