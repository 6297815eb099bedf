"""Expired sessions, and the anonymous progress nobody can reach any more, removed every hour.

An anonymous student's progress hangs on a key kept inside their session's data (models.py).
Once the session is gone (expired after SESSION_COOKIE_AGE, or a logout that does not move it
to an account), nobody can ever read those rows again, and Django never removes expired sessions
by itself (its `clearsessions` is left to a cron job). An attack review made 300 progress rows in
8 s from fresh sessions: without this, each such row stayed for ever, in the database and in
the instructors' class figures (exercises.stats).

So every PRUNE_EVERY seconds (the first time a minute after start-up), each web process
(several at once do no harm: the deletes are idempotent) clears the expired sessions and
deletes the anonymous rows whose key is in no live session; `manage.py prune_progress` does the
same pass at once. Rows younger than GRACE are kept: a row is written before the response saves
the session that holds its key (a first «Comprobar»), so a pass in between would find no
session for it. With a session engine whose sessions cannot be listed (cache, signed cookies),
only the first part runs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from importlib import import_module

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from exercises.models import ExerciseProgress
from exercises.progress import SESSION_KEY

logger = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0
FIRST_PRUNE_AFTER = 60.0
GRACE = timedelta(hours=1)
_DB_SESSIONS = ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db")
_CHUNK = 500  # keys per DELETE: under SQLite's limit on query parameters


def live_anonymous_keys(now: datetime) -> set[str]:
    keys = set()
    for session in Session.objects.filter(expire_date__gt=now).iterator(chunk_size=1000):
        try:
            key = session.get_decoded().get(SESSION_KEY)
        except Exception:  # noqa: BLE001, S112 - a session that does not decode holds no key
            continue
        if isinstance(key, str) and key:
            keys.add(key)
    return keys


def prune() -> int:
    """One pass: expired sessions cleared; returns how many anonymous rows went."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    if settings.SESSION_ENGINE not in _DB_SESSIONS:
        return 0
    now = timezone.now()
    old = now - GRACE
    live = live_anonymous_keys(now)
    keys = {
        key
        for key in ExerciseProgress.objects.filter(anonymous_key__isnull=False, started_at__lt=old)
        .values_list("anonymous_key", flat=True)
        .distinct()
        if key
    }
    orphaned = sorted(keys - live)
    deleted = 0
    for start in range(0, len(orphaned), _CHUNK):
        chunk = orphaned[start : start + _CHUNK]
        count, _by_model = ExerciseProgress.objects.filter(
            anonymous_key__in=chunk, started_at__lt=old
        ).delete()
        deleted += count
    return deleted


async def periodic() -> None:
    """Background task of the server (tutorial.asgi's lifespan)."""
    pause = FIRST_PRUNE_AFTER
    while True:
        await asyncio.sleep(pause)
        pause = PRUNE_EVERY
        try:
            deleted = await sync_to_async(prune, thread_sensitive=False)()
            if deleted:
                logger.info("progreso anónimo sin sesión borrado: %d filas", deleted)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("housekeeping failed")
