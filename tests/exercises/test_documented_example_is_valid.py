"""The complete example in docs/exercises.md is itself a valid lesson header."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from exercises.spec import parse

DOC = Path(__file__).resolve().parents[2] / "docs" / "exercises.md"


def test_the_documented_example_validates() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"```yaml\n---\n(.*?)\n---\n```", text, re.S)
    assert block is not None
    exercises = parse(yaml.safe_load(block.group(1)))
    assert [e.id for e in exercises] == ["kernel-compartido", "hola-archivo"]
    kinds = {type(c).__name__ for e in exercises for c in e.checks}
    assert kinds == {"AnswerCheck", "FileCheck", "ProcessCheck", "CommandCheck"}
