"""{% load course_progress %} {% resume_banner entries %}: «Continúa donde lo dejaste» on the
course index, for a student who has already done something (nothing for a first visit)."""

from __future__ import annotations

from typing import Any

from django import template

from exercises import progress
from exercises.resume import resume_point

register = template.Library()


@register.inclusion_tag("exercises/resume_banner.html", takes_context=True)
def resume_banner(context: template.Context, entries: Any) -> dict[str, Any]:
    request = context.get("request")
    student = progress.student_for(request) if request is not None else None
    lessons = [entry.lesson for entry in entries if entry.available]
    return {"point": resume_point(student, lessons)}
