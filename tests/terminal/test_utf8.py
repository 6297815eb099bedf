from __future__ import annotations

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

WHALE = "🐳".encode()


async def test_a_character_split_across_reads_arrives_whole(open_tab, session_key):
    tab = await open_tab(session_key)

    output = await tab.run(r"printf '\360\237'; sleep 0.3; printf '\220\263\n'", "fin-ballena")

    assert WHALE in output


async def test_invalid_utf8_output_passes_through_and_the_terminal_keeps_working(
    open_tab, session_key
):
    tab = await open_tab(session_key)

    output = await tab.run(r"printf 'a\377\376b\n'", "fin-invalido")
    assert b"a\xff\xfeb" in output

    assert b"sigue" in await tab.run("echo si''gue", "fin-sigue")
    assert tab.close_code is None


async def test_utf8_typed_by_the_student_reaches_the_shell(open_tab, session_key):
    tab = await open_tab(session_key)

    output = await tab.run("echo ñandú-🐳 | od -An -c | head -n 2", "fin-entrada")

    assert b"303" in output or "ñ".encode() in output
