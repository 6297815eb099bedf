"""`{% terminal_protocol %}`: the close-code table as a JSON script tag for the terminal's page."""

from __future__ import annotations

from django import template
from django.utils.html import json_script
from django.utils.safestring import SafeString

from sandbox.terminal_protocol import page_table

register = template.Library()


@register.simple_tag
def terminal_protocol() -> SafeString:
    # Rendered per request so the messages follow the active language.
    return json_script(page_table(), "terminal-protocol")
