"""Differential test: what the engine runs through the gateway is exactly what the gateway checked.

A seeded generator writes Dockerfiles with the characters and layouts where two parsers can
disagree (vertical tabs, form feeds and carriage returns as separators, continuations with
comments and empty lines inside, the `escape` directive, BOMs, CRLF, Unicode spaces, control
characters, heredocs, very long lines, mixed-case keywords) and hostile steps aimed at a
loopback listener (ADD of a URL, FROM and COPY --from a loopback registry, ONBUILD ADD).
Each case is built through a student's gateway; when the gateway lets it through, the same
bytes are built straight on the engine (network none) and the two results must match: every
history entry (`CreatedBy` is the command the engine ran, and for COPY/ADD the hash of the
files copied), the image config, and the layers themselves — the gateway's image must sit on
the straight build's image (the engine's cache only matches identical steps), under the one
ownership LABEL step the gateway adds. Nothing may ever connect to the listener.

Seed and size: MUELLE_DIFF_SEED (default fixed) and MUELLE_DIFF_CASES; the run prints the
number of cases, the outcomes and its run time.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import random
import socket
import tarfile
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from .conftest import IMAGE
from .listener import host_listener

pytestmark = pytest.mark.docker

SEED = int(os.environ.get("MUELLE_DIFF_SEED", "20261203"))
CASES = int(os.environ.get("MUELLE_DIFF_CASES", "40"))
VERBOSE = bool(os.environ.get("MUELLE_DIFF_VERBOSE"))
SEPARATORS = [" ", "\t", "\v", "\f", "  ", " \t", "\t\v ", "\r"]
UNICODE_SPACES = ["\u00a0", "\u2003", "\u3000", "\u0085", "\u2028"]


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("docker", timeout=180)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(180)
        self.sock.connect(self.unix_path)


def call(path: str, method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = UnixHTTP(path)
    try:
        headers = {"Content-Type": "application/x-tar"} if body is not None else {}
        conn.request(method, "/v1.41" + url, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class Built:
    status: int
    image: str | None
    error: str
    log: str


def post_build(path: str, context: bytes, query: str) -> Built:
    status, data = call(path, "POST", "/build?" + query, context)
    if status >= 400:
        return Built(status, None, data.decode(errors="replace"), "")
    image, error, log = None, "", []
    for line in data.decode(errors="replace").split("\n"):
        if not line.strip():
            continue
        item = json.loads(line)
        log.append(item.get("stream", ""))
        if "error" in item:
            error = item["error"]
        if "aux" in item:
            image = item["aux"]["ID"]
    return Built(status, None if error else image, error, "".join(log))


def inspect_image(path: str, url: str) -> Any:
    status, data = call(path, "GET", url)
    assert status == 200, (url, data)
    return json.loads(data)


def _context(dockerfile: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:") as archive:
        for name, content in (("Dockerfile", dockerfile), ("a.txt", b"hola\n")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(content))
    return out.getvalue()


@dataclass
class Case:
    number: int
    text: str
    expect_build: bool  # nothing in it that the gateway refuses on purpose
    hostile: bool
    notes: list[str] = field(default_factory=list)
    child: bool = False  # also build FROM this image, so its ONBUILD triggers run


def _trigger(rng: random.Random, n: int) -> str:
    """A benign ONBUILD, with odd separators (the engine stores the text after ONBUILD)."""
    sep, inner = rng.choice(SEPARATORS), rng.choice(SEPARATORS)
    return rng.choice(
        [
            f"ONBUILD{sep}RUN{inner}echo disparo{n} > /t{n}",
            f"ONBUILD{sep}COPY{inner}a.txt /tc{n}",
            f"ONBUILD{sep}ADD{inner}a.txt /ta{n}",
            f"ONBUILD{sep}ENV{inner}T{n}=uno",
        ]
    )


def _keyword(rng: random.Random, word: str) -> str:
    return rng.choice([word, word.lower(), word.capitalize(), word.swapcase()])


def _benign(rng: random.Random, n: int, escape: str) -> list[str]:
    """Instructions (as `KEYWORD<sep>args`) that a student may write and the gateway allows."""
    word = "".join(rng.choice("abcdefghijkmnpqrstuvwxyz") for _ in range(6))
    choices = [
        ("RUN", f"echo {word} > /f{n}"),
        ("RUN", f'["/bin/sh", "-c", "echo {word} > /j{n}"]'),
        ("RUN", f"echo {word} # not a comment > /k{n}"),
        ("ENV", f"K{n}={word} Z{n}=2"),
        ("ENV", f"V{n} {word} with spaces"),
        ("LABEL", f'l{n}="{word} b" m{n}=c'),
        ("WORKDIR", f"/w{n}"),
        ("COPY", f"a.txt /c{n}.txt"),
        ("COPY", f'["a.txt", "/cj{n}.txt"]'),
        ("COPY", f"--chown=1:1 a.txt /co{n}.txt"),
        ("ADD", f"a.txt /d{n}.txt"),
        ("ARG", f"A{n}={word}"),
        ("USER", "0"),
        ("EXPOSE", f"80{n % 10}"),
        ("CMD", f"echo {word}"),
        ("ENTRYPOINT", '["/bin/sh", "-c"]'),
        ("ONBUILD", f"RUN echo {word}"),
        ("HEALTHCHECK", "--interval=30s CMD true"),
        ("STOPSIGNAL", "SIGTERM"),
        ("RUN", f"echo {word}\x01{word} > /ctl{n}"),
        ("RUN", f"echo {'x' * rng.randint(2000, 9000)} > /long{n}"),
    ]
    keyword, args = rng.choice(choices)
    return [f"{_keyword(rng, keyword)}{rng.choice(SEPARATORS)}{args}"]


def _hostile(rng: random.Random, port: int) -> tuple[str, str]:
    sep = rng.choice(SEPARATORS)
    choices = [
        f"ADD{sep}http://127.0.0.1:{port}/secreto /s",
        f"ADD{sep}--chown=0:0 http://127.0.0.1:{port}/secreto /s",
        f'ADD{sep}["http://127.0.0.1:{port}/secreto", "/s"]',
        f"FROM{sep}127.0.0.1:{port}/x",
        f"COPY{sep}--from=127.0.0.1:{port}/x /a /a",
        f"ONBUILD{sep}ADD{sep}http://127.0.0.1:{port}/y /y",
        f"ADD{sep}ht\\\ntp://127.0.0.1:{port}/z /z",
        f"FROM{sep}127.0.0.1:{port}/x AS base",
    ]
    line = rng.choice(choices)
    return line, line.split(sep, 1)[0]


def _continue(rng: random.Random, line: str, escape: str) -> str:
    """Splits a line at a space with a continuation, maybe with a comment or an empty line."""
    spaces = [i for i, ch in enumerate(line) if ch == " "]
    if not spaces:
        return line
    at = rng.choice(spaces)
    inner = rng.choice(["", "# comentario\n", "   # sangrado\n", "\n", " \t\n"])
    pad = rng.choice(["", " ", "\t"])  # spaces and tabs after the escape still continue
    return f"{line[:at]} {escape}{pad}\n{inner}  {line[at + 1 :]}"


def generate(rng: random.Random, number: int, port: int) -> Case:
    notes: list[str] = []
    expect_build = True
    hostile = False
    escape = "\\"
    head: list[str] = []
    if rng.random() < 0.2:
        escape = "`"
        head.append(rng.choice(["# escape=`", "#escape=`", "# ESCAPE = `"]))
        notes.append("escape")
    if rng.random() < 0.05:
        head.append("# syntax=docker/dockerfile:1")
        expect_build = False
        notes.append("syntax")
    lines = [f"{_keyword(rng, 'FROM')}{rng.choice(SEPARATORS)}{IMAGE}"]
    for step in range(rng.randint(2, 5)):
        lines += _benign(rng, number * 10 + step, escape)
    child = rng.random() < 0.3
    if child:
        lines += [_trigger(rng, number * 10 + 8), _trigger(rng, number * 10 + 9)]
        notes.append("onbuild-child")
    if rng.random() < 0.3:
        line, _keyword_used = _hostile(rng, port)
        lines.insert(rng.randint(1, len(lines)), line)
        hostile = True
        expect_build = False
        notes.append("hostile")
    out: list[str] = []
    for line in lines:
        roll = rng.random()
        if roll < 0.25:
            line = _continue(rng, line, escape)
            notes.append("continuation")
        elif roll < 0.3:
            out.append(rng.choice(["# nota", "   # nota", "#", "\t"]))
        out.append(line)
    if rng.random() < 0.08:
        at = rng.randrange(len(out))
        out[at] = out[at].replace(" ", rng.choice(UNICODE_SPACES), 1)
        expect_build = False
        notes.append("unicode-space")
    if rng.random() < 0.06:
        out.append("RUN <<EOF\necho desde heredoc\nEOF")  # no heredocs in 20.10: "echo" fails
        expect_build = False
        notes.append("heredoc")
    if rng.random() < 0.04:
        out.append("RUN echo " + "y" * 70000)  # beyond bufio's 64 KiB line
        expect_build = False
        notes.append("huge-line")
    newline = "\r\n" if rng.random() < 0.2 else "\n"
    text = newline.join(head + out) + newline
    if rng.random() < 0.1:
        text = "\ufeff" + text
        notes.append("bom")
    if rng.random() < 0.1:
        text = text.rstrip("\r\n") + " " + escape  # an escape at the very end of the file
        notes.append("trailing-escape")
    return Case(number, text, expect_build, hostile, notes, child)


_IGNORED_LABEL_PREFIX = "muelle."
_CONFIG_FIELDS = (
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "OnBuild",
    "Healthcheck",
    "StopSignal",
    "Shell",
    "Volumes",
)


def _is_ownership_label(created_by: str) -> bool:
    """A history entry of the gateway's LABEL (a student's LABEL may not name muelle.*)."""
    return "LABEL" in created_by and "muelle.student" in created_by


def _config(info: dict[str, Any]) -> dict[str, Any]:
    config = info["Config"] or {}
    out = {name: config.get(name) for name in _CONFIG_FIELDS}
    out["Labels"] = {
        k: v
        for k, v in (config.get("Labels") or {}).items()
        if not k.startswith(_IGNORED_LABEL_PREFIX)
    }
    return out


def _remove(path: str, ref: str) -> None:
    call(path, "DELETE", f"/images/{ref}?force=0")


def _compare_children(case: Case, engine: str, gateway: str, straight_base: str) -> int:
    """Builds FROM the case's image through the gateway (the student's own base) and straight
    (FROM the straight image): the triggers that run must be the same steps."""
    through = post_build(
        gateway,
        _context(f"FROM diff{case.number}\nRUN echo hija\n".encode()),
        f"t=hija{case.number}%3Alatest&rm=1",
    )
    bare = straight_base.removeprefix("sha256:")
    straight = post_build(
        engine,
        _context(f"FROM {bare}\nRUN echo hija\n".encode()),
        "networkmode=none&rm=1&forcerm=1",
    )
    try:
        assert through.image and straight.image, (case.text, through.error, straight.error)
        triggers = len(inspect_image(engine, f"/images/{straight_base}/json")["Config"]["OnBuild"])
        assert f"Executing {triggers} build trigger" in through.log
        base_steps = len(inspect_image(engine, f"/images/{straight_base}/history"))
        mine = inspect_image(engine, f"/images/{through.image}/history")
        theirs = inspect_image(engine, f"/images/{straight.image}/history")
        # Above its base, the child's steps (the triggers and the RUN), once the gateway's
        # LABEL steps are set aside (two in each of its stages).
        kept = [h["CreatedBy"] for h in mine if not _is_ownership_label(h["CreatedBy"])]
        mine_steps = kept[: len(kept) - base_steps]
        theirs_steps = [h["CreatedBy"] for h in theirs[: len(theirs) - base_steps]]
        assert mine_steps == theirs_steps, case.text
        assert len(theirs_steps) == triggers + 1
        assert _config(inspect_image(engine, f"/images/{through.image}/json")) == _config(
            inspect_image(engine, f"/images/{straight.image}/json")
        )
        return len(theirs_steps)
    finally:
        if straight.image:
            _remove(engine, straight.image)


def test_builds_through_the_gateway_run_what_the_gateway_checked(student, gateway_config):
    engine = gateway_config.engine_socket
    gateway = str(student.socket)
    started = time.monotonic()
    outcomes = {
        "identical": 0,
        "children": 0,
        "refused": 0,
        "failed-both": 0,
        "refused-but-engine-builds": 0,
    }
    checked_steps = 0
    with host_listener() as listener:
        rng = random.Random(SEED)  # noqa: S311 (a reproducible generator, not secrets)
        cases = [generate(rng, n, listener.port) for n in range(CASES)]
        for case in cases:
            context = _context(case.text.encode("utf-8"))
            through = post_build(gateway, context, f"t=diff{case.number}%3Alatest&rm=1")
            if through.image is None:
                outcomes["refused" if through.status >= 400 else "failed-both"] += 1
                if VERBOSE:
                    print(f"\n--- case {case.number} {case.notes}: {through.error.strip()[:300]}")
                    print(repr(case.text)[:600])
                assert not case.expect_build, (case.text, case.notes, through.error)
                if not case.hostile and through.status >= 400 and "unicode-space" not in case.notes:
                    straight = post_build(engine, context, "networkmode=none&rm=1&forcerm=1")
                    if straight.image:
                        outcomes["refused-but-engine-builds"] += 1
                        if VERBOSE:
                            print(f"*** the engine builds case {case.number} {case.notes}")
                        _remove(engine, straight.image)
                continue
            assert not case.hostile, (case.text, "a hostile case was built")
            straight = post_build(engine, context, "networkmode=none&rm=1&forcerm=1")
            try:
                assert straight.image, (case.text, straight.error)
                mine = inspect_image(engine, f"/images/{through.image}/json")
                theirs = inspect_image(engine, f"/images/{straight.image}/json")
                # The gateway adds exactly two steps, the ownership LABEL after FROM and at
                # the end, around the very steps the engine built from the student's bytes.
                history = inspect_image(engine, f"/images/{through.image}/history")
                straight_history = inspect_image(engine, f"/images/{straight.image}/history")
                ours = [n for n, h in enumerate(history) if _is_ownership_label(h["CreatedBy"])]
                # Two per stage under the image (a later stage may start FROM an earlier one).
                assert ours[0] == 0 and len(ours) >= 2 and len(ours) % 2 == 0, case.text
                assert [h["CreatedBy"] for n, h in enumerate(history) if n not in ours] == [
                    h["CreatedBy"] for h in straight_history
                ]
                assert _config(mine) == _config(theirs)
                checked_steps += len(straight_history)
                if case.child:
                    checked_steps += _compare_children(case, engine, gateway, straight.image)
                    outcomes["children"] += 1
                outcomes["identical"] += 1
            finally:
                _remove(gateway, f"hija{case.number}:latest")
                _remove(gateway, f"diff{case.number}:latest")
                if straight.image:
                    _remove(engine, straight.image)
    elapsed = time.monotonic() - started
    print(
        f"\ndifferential build suite: seed {SEED}, {len(cases)} cases, {outcomes}, "
        f"{checked_steps} history entries compared, listener connections "
        f"{len(listener.connections)}, {elapsed:.1f} s"
    )
    assert listener.connections == []
    assert outcomes["identical"] >= len(cases) // 3  # the generator is not all refusals
    assert sum(c.hostile for c in cases) >= 5
