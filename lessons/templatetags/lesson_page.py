"""{% load lesson_page %} {% lesson_page_part "exercises" lesson %}: a slot of the lesson page
that another app fills for each visitor (lessons.page_parts), or its placeholder while
lessons.page_cache renders the page's shell."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from lessons import page_cache, page_parts

register = template.Library()


@register.simple_tag(takes_context=True)
def lesson_page_part(context: template.Context, name: str, lesson: Any) -> SafeString:
    placeholder = page_cache.part_for_shell(context, name)
    if placeholder is not None:
        return placeholder
    request = context.get("request")
    if request is None:
        return SafeString("")
    # The page's own token (lazy: the part shows it only if it has a form).
    return page_parts.render(name, request, lesson, context.get("csrf_token", ""))
