"""Tags of the lesson page for its cached parts (lessons.page_cache).

{% load lesson_page %}
{% lesson_workspace %}             what {% include "sandbox/workspace.html" %} shows
{% lesson_exercises_block lesson %} what the exercises app's {% lesson_exercises lesson %} shows
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from lessons import page_cache

register = template.Library()


@register.simple_tag(takes_context=True)
def lesson_workspace(context: template.Context) -> SafeString:
    return page_cache.workspace(context)


@register.simple_tag(takes_context=True)
def lesson_exercises_block(context: template.Context, lesson: Any) -> SafeString:
    return page_cache.exercises(context, lesson)
