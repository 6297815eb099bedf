"""The resident check agent, on the real engine: checks run in one long-lived agent per sandbox
with the same time limits, output caps and argv rules as the one-exec runner, and a student (same
uid, a shell in the same container) can neither reach its channel nor stand in for it."""

from __future__ import annotations

import asyncio

import pytest

from exercises.checks import run_checks
from exercises.runner import Step, run_steps
from sandbox import check_agent, engine
from tests.exercises.conftest import exercise_from_yaml

pytestmark = pytest.mark.docker


async def as_student(sandbox: engine.Sandbox, command: str) -> engine.RunResult:
    """What the student could type in the terminal (an exec as the sandbox user)."""
    return await engine.run(sandbox, ["/bin/bash", "-c", command], timeout=10)


async def agent_pid(sandbox: engine.Sandbox) -> int:
    [result] = await run_steps(sandbox, [Step("sh", "true")])
    assert result.exit_code == 0
    return result.runner[0]


async def cmdline(sandbox: engine.Sandbox, pid: int) -> str:
    result = await as_student(sandbox, f"tr '\\0' ' ' < /proc/{pid}/cmdline")
    return result.output.decode()


def exercise(*checks: str) -> object:
    """An exercise with these checks (YAML mappings), each with ok «Bien.» / error «Mal.»."""
    items = ""
    for check in checks:
        body = "".join(f"      {line}\n" for line in check.strip().splitlines())
        items += "    - ok: Bien.\n      error: Mal.\n" + body
    return exercise_from_yaml(
        "- id: prueba\n  titulo: Prueba\n  enunciado: Haz algo.\n  pista: Mira bien.\n"
        "  comprobaciones:\n" + items
    )


async def test_checks_run_in_one_resident_agent(sandbox) -> None:
    first = await agent_pid(sandbox)
    assert "/usr/lib/muelle/check-agent.py" in await cmdline(sandbox, first)
    results = await run_steps(
        sandbox,
        [Step("sh", "id -un; exit 3"), Step("exists", "/etc/passwd"), Step("read", "/nope")],
    )
    assert [r.exit_code for r in results] == [3, 0, 1]
    assert results[0].output == b"alumno\n"
    assert b"No such file" in results[2].output
    # The same agent answered: no new process (no exec) per check.
    assert {r.runner[0] for r in results} == {first}
    assert await agent_pid(sandbox) == first


async def test_a_command_past_the_time_limit_is_killed_with_its_whole_group(
    sandbox, settings
) -> None:
    settings.SANDBOX_RUN_TIMEOUT = 1
    [result] = await run_steps(sandbox, [Step("sh", "(sleep 301; echo never) & sleep 302")])
    assert result.timed_out and result.exit_code == 137
    left = await as_student(sandbox, "ps -eo args | grep -c '^sleep 30[12]' || true")
    assert left.output.strip() == b"0"
    passed_detail = await run_checks(exercise("tipo: comando\ncomando: sleep 30"), sandbox)
    assert not passed_detail[0].passed and "tardó más de 1 segundos" in passed_detail[0].detail


async def test_output_is_capped_and_a_flooding_command_stopped(sandbox, settings) -> None:
    settings.SANDBOX_RUN_OUTPUT_CAP = 1024
    await as_student(sandbox, "head -c 5000 /dev/zero | tr '\\0' a > ~/grande.txt")
    flood, read = await run_steps(sandbox, [Step("sh", "yes muelle"), Step("read", "grande.txt")])
    assert flood.truncated and len(flood.output) == 1024
    assert flood.output.startswith(b"muelle\nmuelle\n")
    assert read.truncated and read.output == b"a" * 1024
    left = await as_student(sandbox, "ps -eo args | grep -c '^yes muelle' || true")
    assert left.output.strip() == b"0"
    [outcome] = await run_checks(exercise("tipo: comando\ncomando: yes muelle"), sandbox)
    assert not outcome.passed and "demasiado larga" in outcome.detail


async def test_commands_and_paths_are_passed_verbatim_and_answers_never_run(sandbox) -> None:
    tricky = "printf '%s' '\"}]\\n{\"id\": 0, $(id) `id` ; é'"
    path = "~/a b; touch ~/hecho-por-ruta"
    answer = "$(touch ~/hecho-por-respuesta)`touch ~/hecho-por-acento`"
    [command] = await run_steps(sandbox, [Step("sh", tricky)])
    assert command.output == '"}]\\n{"id": 0, $(id) `id` ; é'.encode()
    outcomes = await run_checks(
        exercise(f"tipo: archivo\nruta: '{path}'", "tipo: respuesta\ncomando: echo hola"),
        sandbox,
        answer,
    )
    assert [o.passed for o in outcomes] == [False, False]
    made = await as_student(sandbox, "ls -a ~")
    assert b"hecho" not in made.output


async def test_the_process_check_does_not_see_the_agent(sandbox) -> None:
    await agent_pid(sandbox)
    [outcome] = await run_checks(exercise("tipo: proceso\nnombre: check-agent"), sandbox)
    assert not outcome.passed
    # Until the child runs sleep: between its fork and its exec it is still a copy of bash (on a
    # busy machine the check once looked in that moment and found no sleep).
    await as_student(
        sandbox,
        "sleep 776 >/dev/null 2>&1 & "
        "until tr '\\0' ' ' < /proc/$!/cmdline | grep -q '^sleep 776'; do :; done",
    )
    [outcome] = await run_checks(exercise("tipo: proceso\nnombre: '^sleep 776$'"), sandbox)
    assert outcome.passed


# (`kill -9 -1` also kills the sandbox's own main process, the student's: the whole sandbox
# ends, as it did before the agent.)
@pytest.mark.parametrize(
    "kill", ["pkill -KILL -f check-agent", "kill -TERM $(pgrep -f /usr/lib/muelle/check-agent)"]
)
async def test_a_killed_agent_is_replaced_and_the_check_still_answers(sandbox, kill) -> None:
    before = await agent_pid(sandbox)
    await as_student(sandbox, kill)
    [result] = await run_steps(sandbox, [Step("sh", "echo vuelvo; exit 4")])
    assert (result.exit_code, result.output) == (4, b"vuelvo\n")
    assert result.runner[0] != before
    assert "/usr/lib/muelle/check-agent.py" in await cmdline(sandbox, result.runner[0])


async def test_two_checks_of_one_student_at_once_each_get_their_own_answer(sandbox) -> None:
    slow, fast = await asyncio.gather(
        run_steps(sandbox, [Step("sh", "sleep 1; echo lento")]),
        run_steps(sandbox, [Step("sh", "echo rapido; exit 2")]),
    )
    assert (slow[0].exit_code, slow[0].output) == (0, b"lento\n")
    assert (fast[0].exit_code, fast[0].output) == (2, b"rapido\n")


async def test_a_slow_check_does_not_hold_up_another_student(sandbox, settings) -> None:
    from sandbox.terminals import owner_key

    other = await engine.acquire(owner_key("test:otro-alumno"))
    await agent_pid(other)
    slow = asyncio.ensure_future(run_steps(sandbox, [Step("sh", "sleep 8; echo fin")]))
    [quick] = await run_steps(other, [Step("sh", "echo ya")])
    assert quick.output == b"ya\n"
    assert not slow.done()  # ordering, not a duration: the other student did not wait for it
    assert (await slow)[0].output == b"fin\n"


async def test_the_student_cannot_reach_replace_or_impersonate_the_agent(sandbox) -> None:
    pid = await agent_pid(sandbox)
    # Its pipes, memory and file are out of reach for the student's uid.
    for attempt in (
        f"echo x > /proc/{pid}/fd/1",
        f"head -c1 /proc/{pid}/fd/0",
        f"ls /proc/{pid}/fd",
        f"head -c1 /proc/{pid}/mem",
        "echo 'print(1)' > /usr/lib/muelle/check-agent.py",
        "head -c1 /usr/lib/muelle/check-agent-python",
    ):
        result = await as_student(sandbox, attempt)
        assert result.exit_code != 0, attempt
    # A fake that says every check passes, started by the student after killing the real one.
    fake = (
        "import json,struct,sys\n"
        "def say(m):\n"
        " b=json.dumps(m).encode(); sys.stdout.buffer.write(struct.pack('>I',len(b))+b)\n"
        " sys.stdout.flush()\n"
        "say({'hello':'muelle-check-agent','version':1,'pid':1,'dumpable':0})\n"
        "while True:\n"
        " n=struct.unpack('>I',sys.stdin.buffer.read(4))[0]\n"
        " r=json.loads(sys.stdin.buffer.read(n))\n"
        " say({'id':r['id'],'self':[1,0],'results':[[0,'',False,False] for _ in r['steps']]})\n"
    )
    await as_student(
        sandbox,
        f"cat > /tmp/check-agent.py <<'EOF'\n{fake}EOF\n"
        "pkill -KILL -f /usr/lib/muelle/check-agent.py; "
        "(python3 /tmp/check-agent.py </dev/null >/dev/null 2>&1 &)",
    )
    [outcome] = await run_checks(exercise("tipo: comando\ncomando: exit 5"), sandbox)
    assert not outcome.passed and "código 5" in outcome.detail
    assert await agent_pid(sandbox) != pid


async def test_without_an_agent_in_the_image_checks_run_in_an_exec(sandbox, monkeypatch) -> None:
    monkeypatch.setattr(check_agent, "AGENT", ["/usr/lib/muelle/no-existe"])
    with pytest.raises(check_agent.AgentUnavailable):
        await check_agent.run_steps(sandbox, [("sh", "true")], limit=5, cap=1024)
    [result] = await run_steps(sandbox, [Step("sh", "echo sin agente; exit 6")])
    assert (result.exit_code, result.output) == (6, b"sin agente\n")
    passing, failing = await run_checks(
        exercise("tipo: comando\ncomando: test -d ~", "tipo: comando\ncomando: exit 1"),
        sandbox,
    )
    assert passing.passed and not failing.passed
