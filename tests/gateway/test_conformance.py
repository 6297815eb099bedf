"""Conformance: each allowed operation the course uses, sent as the same Engine API request
straight to the engine and through a student's gateway; status, the JSON fields a client reads,
and the effect (what inspect shows afterwards) must match. Names differ legitimately (the engine
side gets a per-run suffix, the gateway prefixes them per student), so they are normalised; ids
are compared by shape. What the gateway imposes on purpose (no network by default, internal
networks, limits) is set explicitly on both sides or left out, and listed in docs/gateway.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest

from sandbox.gateway import policy
from sandbox.gateway.names import PREFIXED

from .engine_side import engine  # noqa: F401 (fixture)

pytestmark = pytest.mark.docker

API = "/v1.41"
IMAGE = "muelle/busybox"  # written as a student writes it: no tag
MiB = 1024**2
FULL_ID = re.compile(r"^(sha256:)?[0-9a-f]{64}$")


@dataclass
class Side:
    """One way to the engine: straight (names suffixed per run) or through the gateway."""

    raw: Any
    suffix: str
    label: dict[str, str]

    def name(self, plain: str) -> str:
        return plain + self.suffix

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return self.raw(method, API + path, body)

    def norm(self, value: Any) -> Any:
        """The answer with this side's names made plain (and the id shapes kept)."""
        text = json.dumps(value)
        if self.suffix:
            text = text.replace(self.suffix, "")
        return json.loads(text)


@pytest.fixture
def sides(student, engine):  # noqa: F811
    label = {"conformance": "1"}
    straight = Side(
        engine.raw, f"-{engine.run_id}", {**label, engine.label.split("=")[0]: engine.run_id}
    )

    def through(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, answer = student.raw(
            method, path, body=None if body is None else json.dumps(body).encode()
        )
        return status, (None if answer == "" else answer)

    return straight, Side(through, "", label)


def same(sides: tuple[Side, Side], method: str, path: str, body: Any = None) -> list[Any]:
    """Sends the request both ways (names per side); asserts equal status; the two answers."""
    answers = []
    statuses = []
    for side in sides:
        status, answer = side.call(method, _named(side, path), _named(side, body))
        statuses.append(status)
        answers.append(answer)
    assert statuses[0] == statuses[1], (method, path, statuses, answers)
    return [statuses[0], *answers]


def _named(side: Side, value: Any) -> Any:
    """`{n:web}` placeholders become this side's name for `web` (URL-encoded in paths)."""
    if value is None:
        return None

    def names(text: str) -> str:
        return re.sub(r"\{n:([^}]+)\}", lambda m: side.name(m.group(1)), text)

    if isinstance(value, str):
        base, _sep, query = value.partition("?")
        base = re.sub(r"\{n:([^}]+)\}", lambda m: quote(side.name(m.group(1))), base)
        if not query:
            return base
        pairs = [(k, names(v)) for k, v in parse_qsl(query, keep_blank_values=True)]
        return base + "?" + urlencode(pairs)
    out = json.loads(names(json.dumps(value)))
    if "Labels" in value:
        out["Labels"] = side.label
    return out


def visible_labels(labels: dict[str, str] | None) -> dict[str, str]:
    """Labels as a student sees them: Muelle's own (`muelle.*`, also those a course image
    carries) are hidden by the gateway; the engine-side cleanup label is this test's."""
    return {
        k: v
        for k, v in (labels or {}).items()
        if not k.startswith("muelle.") and k != "muelle-fidelity-test"
    }


def pick(info: dict[str, Any], *paths: str) -> dict[str, Any]:
    out = {}
    for path in paths:
        value: Any = info
        for key in path.split("."):
            value = (value or {}).get(key)
        out[path] = value
    return out


def test_ping_version_and_info(sides):
    status, theirs, mine = same(sides, "GET", "/_ping")
    assert (status, theirs, mine) == (200, "OK", "OK")
    status, theirs, mine = same(sides, "GET", "/version")
    keys = ("ApiVersion", "Version", "Os", "Arch", "KernelVersion", "GoVersion")
    assert pick(theirs, *keys) == pick(mine, *keys)
    status, theirs, mine = same(sides, "GET", "/info")
    assert set(theirs) == set(mine)
    for side, info in zip(sides, (theirs, mine), strict=True):
        if side.suffix:
            continue  # the engine's counts include every other test's objects at this moment
        listed = side.call("GET", "/containers/json?all=1")[1]
        images = side.call("GET", "/images/json?all=1")[1]
        assert info["Containers"] == len(listed)
        assert info["Images"] == len(images)


def test_container_life_cycle(sides):
    create = {
        "Image": IMAGE,
        "Cmd": ["sh", "-c", "echo hola; echo error >&2; exec sleep 300"],
        "Env": ["SALUDO=hola"],
        "WorkingDir": "/srv",
        "StopSignal": "SIGTERM",
        "Labels": {},
        "HostConfig": {
            "NetworkMode": "none",
            "Memory": 32 * MiB,
            "Isolation": "default",
            "Tmpfs": {"/t": "size=3M"},
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
        },
    }
    status, theirs, mine = same(sides, "POST", "/containers/create?name={n:vida}", create)
    assert status == 201
    assert set(theirs) == set(mine) == {"Id", "Warnings"}
    assert FULL_ID.match(theirs["Id"]) and FULL_ID.match(mine["Id"])

    fields = (
        "Name",
        "Path",
        "Args",
        "State.Status",
        "Config.Image",
        "Config.Cmd",
        "Config.Env",
        "Config.WorkingDir",
        "Config.StopSignal",
        "Config.Labels",
        "HostConfig.Isolation",
        "HostConfig.Tmpfs",
        "HostConfig.RestartPolicy",
        "HostConfig.Memory",
        "HostConfig.NetworkMode",
    )

    def inspected() -> tuple[dict[str, Any], dict[str, Any]]:
        status, theirs, mine = same(sides, "GET", "/containers/{n:vida}/json")
        assert status == 200
        return pick(sides[0].norm(theirs), *fields), pick(mine, *fields)

    theirs_info, mine_info = inspected()
    theirs_info["Config.Labels"] = visible_labels(theirs_info["Config.Labels"])
    assert theirs_info == mine_info
    assert mine_info["Config.Image"] == IMAGE

    filters = json.dumps({"name": ["{n:vida}"]})
    status, theirs, mine = same(sides, "GET", f"/containers/json?all=1&filters={filters}")
    assert len(theirs) == len(mine) == 1
    keys = ("Names", "Image", "Command", "State")
    assert pick(sides[0].norm(theirs[0]), *keys) == pick(mine[0], *keys)

    assert same(sides, "POST", "/containers/{n:vida}/start")[0] == 204
    status, theirs, mine = same(sides, "GET", "/containers/{n:vida}/json")
    assert theirs["State"]["Running"] is mine["State"]["Running"] is True

    status, theirs, mine = same(sides, "GET", "/containers/{n:vida}/top")
    assert status == 200 and theirs["Titles"] == mine["Titles"]
    assert [p[-1] for p in theirs["Processes"]] == [p[-1] for p in mine["Processes"]]

    exec_body = {"Cmd": ["sh", "-c", "exit 3"], "AttachStdout": True}
    status, theirs, mine = same(sides, "POST", "/containers/{n:vida}/exec", exec_body)
    assert status == 201
    exec_ids = (theirs["Id"], mine["Id"])
    inspected_execs = []
    for side, exec_id in zip(sides, exec_ids, strict=True):
        assert side.call("POST", f"/exec/{exec_id}/start", {"Detach": True})[0] == 200
        for _attempt in range(200):  # until it has ended (a count, not a clock)
            info = side.call("GET", f"/exec/{exec_id}/json")[1]
            if not info["Running"] and info["ExitCode"] is not None:
                break
        inspected_execs.append(info)
    keys = ("ProcessConfig.entrypoint", "ProcessConfig.arguments", "Running", "ExitCode")
    assert pick(inspected_execs[0], *keys) == pick(inspected_execs[1], *keys)
    assert inspected_execs[1]["ExitCode"] == 3

    assert same(sides, "POST", "/containers/{n:vida}/stop?t=1")[0] == 204
    status, theirs, mine = same(sides, "POST", "/containers/{n:vida}/wait")
    assert status == 200 and theirs["StatusCode"] == mine["StatusCode"]
    status, theirs, mine = same(sides, "GET", "/containers/{n:vida}/json")
    assert theirs["State"]["Status"] == mine["State"]["Status"] == "exited"

    assert same(sides, "POST", "/containers/{n:vida}/rename?name={n:otra}")[0] == 204
    assert same(sides, "DELETE", "/containers/{n:otra}")[0] == 204
    assert same(sides, "GET", "/containers/{n:otra}/json")[0] == 404


def test_images_inspect_history_tag_and_rmi(sides):
    status, theirs, mine = same(sides, "GET", f"/images/{IMAGE}/json")
    assert status == 200
    keys = ("Id", "Config.Cmd", "Os", "Architecture", "Size")
    assert pick(theirs, *keys) == pick(mine, *keys)
    # The engine also lists the tags other students (other tests running now) put on this shared
    # image, under their own prefix; a student's gateway shows none of those.
    shared_tags = [tag for tag in theirs["RepoTags"] if not PREFIXED.match(tag)]
    assert shared_tags == mine["RepoTags"]
    status, theirs, mine = same(sides, "GET", f"/images/{IMAGE}/history")
    assert [(h["Id"], h["CreatedBy"]) for h in theirs] == [(h["Id"], h["CreatedBy"]) for h in mine]

    tag = f"/images/{IMAGE}/tag?repo=muelle-fidelity-test/{{n:copia}}&tag=uno"
    assert same(sides, "POST", tag)[0] == 201
    status, theirs, mine = same(sides, "GET", "/images/muelle-fidelity-test/{n:copia}:uno/json")
    assert status == 200 and theirs["Id"] == mine["Id"]
    assert "muelle-fidelity-test/copia:uno" in sides[0].norm(theirs["RepoTags"])
    assert "muelle-fidelity-test/copia:uno" in mine["RepoTags"]
    status, theirs, mine = same(sides, "DELETE", "/images/muelle-fidelity-test/{n:copia}:uno")
    assert status == 200
    assert sides[0].norm(theirs) == mine == [{"Untagged": "muelle-fidelity-test/copia:uno"}]
    assert same(sides, "GET", "/images/muelle-fidelity-test/{n:copia}:uno/json")[0] == 404


def test_volume_life_cycle(sides):
    status, theirs, mine = same(
        sides, "POST", "/volumes/create", {"Name": "{n:datos}", "Labels": {}}
    )
    assert status == 201
    keys = ("Name", "Driver", "Scope", "Options")
    assert pick(sides[0].norm(theirs), *keys) == pick(mine, *keys)
    status, theirs, mine = same(sides, "GET", "/volumes/{n:datos}")
    assert pick(sides[0].norm(theirs), *keys) == pick(mine, *keys)
    assert visible_labels(theirs["Labels"]) == mine["Labels"]
    filters = json.dumps({"name": ["{n:datos}"]})
    status, theirs, mine = same(sides, "GET", f"/volumes?filters={filters}")
    names = (
        [sides[0].norm(v["Name"]) for v in theirs["Volumes"]],
        [v["Name"] for v in mine["Volumes"]],
    )
    assert names[0] == names[1] == [sides[1].name("datos")]
    assert same(sides, "DELETE", "/volumes/{n:datos}")[0] == 204
    assert same(sides, "GET", "/volumes/{n:datos}")[0] == 404


def test_network_life_cycle_with_connect_and_disconnect(sides):
    # Internal on both sides: the gateway makes every student network internal (documented).
    body = {"Name": "{n:test 01}", "Internal": True, "Labels": {}}
    status, theirs, mine = same(sides, "POST", "/networks/create", body)
    assert status == 201 and set(theirs) == set(mine)
    path = "/networks/{n:test 01}"
    status, theirs, mine = same(sides, "GET", path)
    keys = ("Name", "Driver", "Scope", "Internal", "EnableIPv6", "Attachable")
    assert pick(sides[0].norm(theirs), *keys) == pick(mine, *keys)
    assert mine["Name"] == "test 01"

    create = {"Image": IMAGE, "Cmd": ["sleep", "300"], "Labels": {}, "HostConfig": {}}
    create["HostConfig"] = {"NetworkMode": "none", "Memory": 16 * MiB}
    assert same(sides, "POST", "/containers/create?name={n:red}", create)[0] == 201
    # Straight to the engine, `none` must be left first; the gateway does it by itself (its
    # default is `none` where Docker's is `bridge`, see docs/gateway.md).
    sides[0].call("POST", "/networks/none/disconnect", {"Container": sides[0].name("red")})
    connect = {
        "Container": "{n:red}",
        "EndpointConfig": {"Aliases": ["alias"], "MacAddress": "02:42:ac:11:00:42"},
    }
    assert same(sides, "POST", path + "/connect", connect)[0] == 200
    status, theirs, mine = same(sides, "GET", "/containers/{n:red}/json")
    networks = (
        sides[0].norm(theirs["NetworkSettings"]["Networks"]),
        mine["NetworkSettings"]["Networks"],
    )
    assert list(networks[0]) == list(networks[1]) == ["test 01"]
    for key in ("MacAddress",):
        assert networks[0]["test 01"][key] == networks[1]["test 01"][key] == "02:42:ac:11:00:42"
    assert (
        "alias" in networks[0]["test 01"]["Aliases"]
        and "alias" in networks[1]["test 01"]["Aliases"]
    )

    disconnect = {"Container": "{n:red}"}
    assert same(sides, "POST", path + "/disconnect", disconnect)[0] == 200
    status, theirs, mine = same(sides, "GET", "/containers/{n:red}/json")
    assert theirs["NetworkSettings"]["Networks"] == mine["NetworkSettings"]["Networks"] == {}
    assert same(sides, "DELETE", "/containers/{n:red}")[0] == 204
    assert same(sides, "DELETE", path)[0] == 204
    assert same(sides, "GET", path)[0] == 404


def test_swarm_probes_answer_as_outside_a_swarm(sides):
    for path in ("/swarm", "/nodes", "/services", "/tasks", "/secrets", "/configs"):
        assert same(sides, "GET", path)[0] == 503
    assert same(sides, "POST", "/swarm/leave")[0] == 503


# --- the refusal table ----------------------------------------------------------------------
DOCS = Path(__file__).resolve().parents[2] / "docs" / "gateway.md"


def _refusal_table() -> str:
    text = DOCS.read_text()
    start = text.index("### What is refused, and why")
    return text[start : text.index("\n\n", text.index("| Request | Why |", start))]


def test_every_flag_policy_refuses_is_a_row_of_the_refusal_table():
    table = _refusal_table()
    # Published ports are carried by Muelle (sandbox/ports), no longer refused.
    refusing = {
        k: v for k, v in policy.FLAGS.items() if k not in ("PortBindings", "PublishAllPorts")
    }
    missing = [
        flag
        for flag in set(refusing.values())
        if not any(f"`{part}" in table for part in flag.split()[0].split("/"))
    ]
    assert missing == []


@pytest.mark.parametrize(
    "words",
    [
        "--link",
        "--restart",
        "--tmpfs",
        "--isolation",
        "--runtime",
        "--volume-driver",
        "--oom-score-adj",
        "--mount type=",
        "network",
        "exec --privileged",
        "--change",
        "--log-opt",
    ],
)
def test_other_refusals_are_rows_of_the_refusal_table(words):
    assert words in _refusal_table()
