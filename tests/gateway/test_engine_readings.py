"""Names and references read as the engine's Go code reads them: Python's `$` also matches
before a final newline and its `\\w` takes any Unicode letter or digit; Go's regexp does neither.
"""

from __future__ import annotations

import json

import pytest

from sandbox.gateway.names import OBJECT_NAME, parse_image_ref

from .conftest import IMAGE


@pytest.mark.parametrize(
    "ref",
    [
        "a\n/b",
        "alpine:latest\n",
        "alpine:lat\u0661",  # an Arabic-Indic digit: \w for Python, not for Go
        "alpine:\u00e9",
        "alpine@sha256:" + "a" * 64 + "\n",
        "Alpine",
    ],
)
def test_references_the_engine_refuses_are_not_references(ref):
    assert parse_image_ref(ref) is None


def test_references_are_normalised_like_the_engine():
    ref = parse_image_ref("docker.io/alpine:3.19")
    assert ref is not None
    assert (ref.domain, ref.path, ref.tag) == ("docker.io", "library/alpine", "3.19")
    ref = parse_image_ref("localhost:5000/x")
    assert ref is not None and ref.domain == "localhost:5000"


@pytest.mark.parametrize("name", ["web\n", "web\u0661", "-web", "w" * 101])
def test_object_names_the_engine_refuses_are_refused(name):
    assert OBJECT_NAME.match(name) is None


@pytest.mark.docker
def test_a_final_newline_in_a_name_or_path_is_refused_before_the_engine(student):
    body = json.dumps({"Image": IMAGE, "Cmd": ["true"]}).encode()
    status, answer = student.raw("POST", "/v1.41/containers/create?name=web%0A", body=body)
    assert status == 400, answer
    assert student.engine_objects()["containers"] == []
    status, answer = student.raw("GET", "/v1.41/containers/json%0A")
    assert status == 400
    assert "Petición HTTP no válida" in answer["message"]
