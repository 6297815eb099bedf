"""The Dockerfile the builder runs is re-emitted from the checked parse."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.gateway.dockerfile import BaseImage, rewrite
from sandbox.gateway.errors import GatewayError

IMAGES = {
    "muelle/busybox": BaseImage("muelle/busybox:latest", []),
    "miapp": BaseImage("m0123456789abcd/miapp:latest", []),
    "trampa": BaseImage("m0123456789abcd/trampa:latest", ["ADD http://10.0.0.1/x /x"]),
}


async def resolve(token: str) -> BaseImage | None:
    return IMAGES.get(token)


def run(text: str, labels: dict[str, str] | None = None) -> str:
    return asyncio.run(rewrite(text, resolve, labels))


def test_from_is_rewritten_to_the_engine_name_and_stages_stay():
    out = run("FROM miapp AS base\nRUN make \\\n  all\n# nota\nFROM base\nCOPY --from=base /a /b\n")
    assert out == (
        "FROM m0123456789abcd/miapp:latest AS base\nRUN make   all\nFROM base\n"
        "COPY --from=base /a /b\n"
    )


def test_stage_labels_start_and_end_every_stage():
    out = run("FROM muelle/busybox AS a\nFROM a\n", {"muelle.student": "x"})
    assert out.splitlines() == [
        "FROM muelle/busybox:latest AS a",
        'LABEL "muelle.student"="x"',
        'LABEL "muelle.student"="x"',
        "FROM a",
        'LABEL "muelle.student"="x"',
        'LABEL "muelle.student"="x"',
    ]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("FROM 127.0.0.1:5000/x\n", "no está en Muelle"),
        ("ARG B=x\nFROM $B\n", "sin variables"),
        ("FROM muelle/busybox\nADD http://127.0.0.1/x /x\n", "ADD"),
        ("FROM muelle/busybox\nADD ht\\\ntp://127.0.0.1/x /x\n", "ADD"),
        ('FROM muelle/busybox\nADD ["http://127.0.0.1/x", "/x"]\n', "ADD"),
        ("FROM muelle/busybox\nADD $URL /x\n", "ADD"),
        ("FROM muelle/busybox\nCOPY --from=127.0.0.1:5000/x /a /a\n", "no está en Muelle"),
        ("FROM muelle/busybox\nONBUILD ADD http://127.0.0.1/x /x\n", "ADD"),
        ("FROM muelle/busybox\nONBUILD COPY --from=x /a /a\n", "ONBUILD COPY --from"),
        ("FROM trampa\n", "ADD"),
    ],
)
def test_ways_to_make_the_engine_fetch_something_are_refused(text, why):
    with pytest.raises(GatewayError) as error:
        run(text)
    assert why in error.value.message


def test_add_of_context_files_is_emitted_in_json_form():
    assert run("FROM muelle/busybox\nADD --chown=1:1 a.tar dir/ /dest/\n").splitlines()[1] == (
        'ADD --chown=1:1 ["a.tar", "dir/", "/dest/"]'
    )


def test_escape_directive_is_kept():
    out = run("# escape=`\nFROM muelle/busybox\nRUN echo a `\n  b\n")
    assert out == "# escape=`\nFROM muelle/busybox:latest\nRUN echo a   b\n"
