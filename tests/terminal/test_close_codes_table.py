"""Close codes are written once, in Python: the page gets them as JSON, the scripts have none."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import translation

from sandbox import terminal_protocol, terminals

SCRIPTS = Path(__file__).resolve().parents[2] / "static" / "sandbox"


def test_the_panel_carries_the_table_as_json_in_spanish(db):
    request = RequestFactory().get("/")
    with translation.override("es"):
        html = render_to_string("sandbox/terminal_panel.html", request=request)
    tag = r'<script id="terminal-protocol" type="application/json">(.*?)</script>'
    found = re.search(tag, html)
    assert found, "the panel has no close-code table"
    table = json.loads(found.group(1))
    assert set(table["codes"]) == {str(entry.code) for entry in terminal_protocol.CLOSE_CODES}
    assert table["codes"]["4009"]["action"] == "takeBack"
    assert "otra pestaña" in table["codes"]["4009"]["message"]
    assert '<script type="module"' in html and "sandbox/terminal/main.js" in html


def test_every_code_the_server_closes_with_is_in_the_table():
    known = {entry.code for entry in terminal_protocol.CLOSE_CODES}
    used = {value for name, value in vars(terminals).items() if name.startswith("CLOSE_")}
    assert used and used <= known
    assert {entry.action for entry in terminal_protocol.CLOSE_CODES} <= terminal_protocol.ACTIONS


def test_no_script_writes_a_close_code_again():
    codes = {str(entry.code) for entry in terminal_protocol.CLOSE_CODES}
    scripts = sorted(SCRIPTS.rglob("*.js"))
    assert scripts
    for script in scripts:
        numbers = set(re.findall(r"\b\d{4}\b", script.read_text()))
        assert not numbers & codes, f"{script.name} writes close codes {sorted(numbers & codes)}"
