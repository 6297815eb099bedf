"""The port of the engine's Dockerfile parser reads what Docker 20.10's classic builder reads.

Each expectation comes from moby/buildkit `frontend/dockerfile/parser` as vendored in moby
v20.10.24 (`parser.go`, `split_command.go`, `line_parsers.go`); the differential suite checks
the same against the real engine.
"""

from __future__ import annotations

import asyncio

import pytest

from sandbox.gateway.dockerfile import BaseImage, rewrite
from sandbox.gateway.dockerfile_parse import json_array, parse, prepare, split_command
from sandbox.gateway.errors import GatewayError


def nodes(text: str) -> list[tuple[str, list[str], str]]:
    return [(n.keyword, n.flags, n.args) for n in parse(prepare(text.encode())).nodes]


@pytest.mark.parametrize("sep", ["\v", "\f", "\r", "\t", " \v\f\t "], ids=repr)
def test_keywords_end_at_every_separator_the_engine_accepts(sep):
    assert nodes(f"ADD{sep}http://x/ /y\n") == [("add", [], "http://x/ /y")]


@pytest.mark.parametrize("char", ["\x1c", "\x1f", "\x00", "\x7f"], ids=repr)
def test_characters_python_calls_space_are_not_separators_for_the_engine(char):
    assert nodes(f"RUN{char}echo\n")[0][0] == f"run{char}echo"


def test_line_endings_as_bufio_scanlines():
    assert nodes("RUN a\r\nRUN b\rc\n\nRUN d") == [
        ("run", [], "a"),
        ("run", [], "b\rc"),  # a lone CR stays inside the line
        ("run", [], "d"),  # the last line needs no newline
    ]


def test_directives_follow_go_s_rules():
    assert parse(prepare(b"# escape=`\nRUN a `\n b\n")).escape == "`"
    assert nodes("# escape=`\nRUN a `\n b\n") == [("run", [], "a  b")]
    assert parse(prepare(b"#\vescape=`\nRUN a\n")).escape == "\\"  # Go's \s has no \v
    assert parse(prepare(b"\n# escape=`\nRUN a\n")).escape == "\\"  # after a blank line
    assert parse(prepare(b"# foo=bar\n# escape=`\nRUN a\n")).escape == "\\"
    assert parse(prepare(b"# ESCAPE = `\nRUN a\n")).escape == "`"
    assert parse(prepare(b"# syntax=x/y\nRUN a\n")).syntax == "x/y"
    with pytest.raises(GatewayError):
        parse(prepare(b"# escape=`\n# escape=\\\nRUN a\n"))
    with pytest.raises(GatewayError):
        parse(prepare(b"# escape=x\nRUN a\n"))


def test_continuations_comments_and_empty_lines():
    assert nodes("RUN a \\\n# c\n\n   # d\n  b\n") == [("run", [], "a   b")]
    assert nodes("RUN a \\\\\nRUN b\n") == [("run", [], "a \\\\"), ("run", [], "b")]
    assert nodes("RUN a \\\n\\\nb\n") == [("run", [], "a b")]
    assert nodes("RUN a \\ \t\nb\n") == [("run", [], "a b")]
    assert nodes("RUN a \\") == [("run", [], "a")]  # a continuation at the end of the file
    assert nodes("   # nota\n\t\nRUN a # no es comentario\n") == [
        ("run", [], "a # no es comentario")
    ]


def test_bom_only_at_the_start():
    assert nodes("\ufeffRUN a\n") == [("run", [], "a")]
    with pytest.raises(GatewayError) as error:  # elsewhere it is part of the keyword
        nodes("RUN a\n\ufeffRUN b\n")
    assert "instrucción desconocida" in error.value.message


def test_builder_flags_are_read_like_extract_builder_flags():
    assert split_command('COPY --from="a b" --chown=1\\:2 x y', 1).flags == [
        "--from=a b",
        "--chown=1:2",
    ]
    node = split_command("COPY --chown=1 -- --x /y", 1)
    assert (node.flags, node.args) == (["--chown=1"], "--x /y")
    assert split_command("RUN --", 1).args == ""
    assert split_command("RUN echo --no-flag", 1).flags == []
    with pytest.raises(GatewayError):
        split_command("COPY --chown=à x y", 1)  # Go reads flags byte by byte


def test_text_go_and_python_read_differently_is_refused():
    for text in ("FROM\u00a0x\n", "FROM x\nRUN a\u2003b\n", "RUN \u3000a\n", "RUN a\u0085\n"):
        with pytest.raises(GatewayError) as error:
            prepare(text.encode())
        assert "espacio Unicode" in error.value.message
    with pytest.raises(GatewayError):
        prepare(b"RUN " + b"x" * 70000 + b"\n")
    with pytest.raises(GatewayError):
        prepare(b"RUN \xff\n")
    with pytest.raises(GatewayError):
        split_command("HEALTHCHEC\u212a CMD true", 1)  # Go lower-cases the Kelvin sign to k


def test_json_form_as_go_s_decoder():
    assert json_array('["a", "b"] y algo más') == ["a", "b"]  # Go reads the first value only
    assert json_array("[NaN]") is None
    assert json_array("echo [a]") is None
    with pytest.raises(GatewayError):
        json_array('["a", 1]')


IMAGES = {"muelle/busybox": BaseImage("muelle/busybox:latest", [])}


async def resolve(token: str) -> BaseImage | None:
    return IMAGES.get(token)


def run(text: str) -> str:
    return asyncio.run(rewrite(text, resolve, None, frozenset({"linux/amd64"})))


def refusal(text: str) -> str:
    with pytest.raises(GatewayError) as error:
        run(text)
    return error.value.message


def test_re_emission_is_canonical_and_keeps_what_the_engine_would_keep():
    out = run(
        "from\vmuelle/busybox\nrun\f-- --help\nonbuild\vRUN\techo x\n"
        "COPY --chown=1:1 -- --a /b\nHEALTHCHECK --interval=5s CMD true\n"
    )
    assert out.split("\n")[:-1] == [
        "FROM muelle/busybox:latest",
        "RUN -- --help",
        "ONBUILD \vRUN\techo x",  # stored by the engine as "\vRUN\techo x", as without Muelle
        "COPY --chown=1:1 -- --a /b",
        "HEALTHCHECK --interval=5s CMD true",
    ]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            "FROM muelle/busybox\nCOPY --FROM=x a b\n",
            "COPY solo admite",
        ),  # flags are case-sensitive
        ("FROM muelle/busybox\nRUN --network=host true\n", "RUN no admite opciones"),
        ("FROM muelle/busybox\nONBUILD --x RUN true\n", "ONBUILD no admite opciones"),
        ("FROM 0\n", "no está en Muelle"),  # a FROM never takes a stage index
        ("FROM muelle/busybox AS a\nCOPY --from=a /x /x\n", "no está en Muelle"),
        ("FROM --platform=linux/arm64 muelle/busybox\n", "--platform"),
        ("FROM muelle/busybox\nECHO hola\n", "instrucción desconocida"),
        ("FROM muelle/busybox\nONBUILD ADD\vhttp://127.0.0.1/x /x\n", "ADD"),
        ("FROM muelle/busybox\nONBUILD ONBUILD RUN true\n", "ONBUILD no admite ONBUILD"),
        # Fine with this file's escape, but the trigger is parsed alone with "\\" later:
        ("# escape=`\nFROM muelle/busybox\nONBUILD ADD a \\\n", "ADD necesita"),
    ],
)
def test_what_cannot_run_as_checked_is_refused(text, why):
    assert why in refusal(text)


def test_stage_indexes_and_finished_stages_are_not_images():
    out = run(
        "FROM muelle/busybox AS a\nFROM muelle/busybox\nCOPY --from=0 /x /x\nCOPY --from=A /y /y\n"
    )
    assert out.splitlines()[2:] == ["COPY --from=0 /x /x", "COPY --from=A /y /y"]


def test_a_base_image_trigger_is_parsed_alone_with_the_default_escape():
    IMAGES["hostil"] = BaseImage("m0/hostil:latest", ["\vADD http://127.0.0.1/x /x"])
    IMAGES["dos"] = BaseImage("m0/dos:latest", ["RUN a\nRUN b"])
    IMAGES["bien"] = BaseImage("m0/bien:latest", ["\vRUN echo hola", "COPY a /a"])
    try:
        assert "ADD" in refusal("FROM hostil\n")
        assert "ONBUILD que Muelle no puede leer" in refusal("FROM dos\n")
        assert run("FROM bien\n") == "FROM m0/bien:latest\n"
    finally:
        for name in ("hostil", "dos", "bien"):
            del IMAGES[name]
