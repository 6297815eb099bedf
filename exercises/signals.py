"""Carries an anonymous student's progress over to their account when they log in.

django.contrib.auth.login() gives the session a new key but keeps its data, so the anonymous
progress key stored in that data (progress.SESSION_KEY) is still there when user_logged_in fires,
whatever view did the login (ours, the admin's).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from exercises.progress import SESSION_KEY, merge_into_user


@receiver(user_logged_in, dispatch_uid="exercises.merge_anonymous_progress")
def merge_anonymous_progress(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    key = session.pop(SESSION_KEY, None)
    if isinstance(key, str) and key:
        merge_into_user(key, user.pk)
