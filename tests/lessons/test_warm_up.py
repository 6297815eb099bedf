"""The warm-up a server does when it starts (lessons.warm_up): the index and the first lesson are
rendered for nobody, the first lesson's shell is cached, no session is saved, the page a first
visitor then gets is the page rendered whole, and a warm-up that fails is logged, not raised."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from exercises import lesson_part
from lessons import catalog, page_cache, warm_up
from tests.lessons.test_page_cache import empty_every_cache, without_tokens

COURSE = Path(django_settings.BASE_DIR) / "content" / "lessons"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def first_lesson(settings: Any) -> Iterator[str]:
    settings.LESSONS_DIR = COURSE
    settings.LESSON_PAGE_CACHE = True
    empty_every_cache()
    yield reverse("lessons:detail", kwargs={"slug": catalog.get_catalog().lessons[0].slug})
    empty_every_cache()


def test_it_renders_the_index_and_the_first_lesson_and_writes_nothing(first_lesson):
    assert len(page_cache.shells) == 0

    with CaptureQueriesContext(connection) as queries:
        assert warm_up.warm_up() == [reverse("lessons:index"), first_lesson]

    assert len(page_cache.shells) == 1  # the first lesson's shell, for an anonymous visitor
    # Reads only (the exercises' progress for nobody): no session, no progress written.
    statements = [query["sql"].lstrip().split()[0].upper() for query in queries.captured_queries]
    assert statements and set(statements) == {"SELECT"}, statements
    assert Session.objects.count() == 0


def test_the_first_visitor_after_it_gets_the_page_rendered_whole(first_lesson, settings):
    warm_up.warm_up()
    shell = _the_only_shell()
    warmed = Client().get(first_lesson)
    assert warmed.status_code == 200
    assert _the_only_shell() is shell  # served from the warm-up's shell, not a new one

    settings.LESSON_PAGE_CACHE = False
    empty_every_cache()
    lesson_part.blocks.clear()
    whole = Client().get(first_lesson)

    assert without_tokens(warmed.content.decode()) == without_tokens(whole.content.decode())


def _the_only_shell() -> object:
    (entry,) = page_cache.shells._lru._items.values()
    return entry


def test_a_page_that_fails_is_logged_and_the_other_is_still_warmed(
    first_lesson, monkeypatch, caplog
):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("the lesson file went away")

    monkeypatch.setattr(page_cache, "lesson_page", broken)
    with caplog.at_level(logging.WARNING, logger="lessons.warm_up"):
        assert warm_up.warm_up() == [reverse("lessons:index")]
    assert f"warming up {first_lesson} failed" in caplog.text
    assert "the lesson file went away" in caplog.text


def test_a_warm_up_that_fails_is_logged_and_returns(first_lesson, monkeypatch, caplog):
    def broken() -> Any:
        raise OSError("the lessons folder went away")

    monkeypatch.setattr(catalog, "get_catalog", broken)
    with caplog.at_level(logging.WARNING, logger="lessons.warm_up"):
        assert warm_up.warm_up() == []
    assert "warming up the lesson pages failed" in caplog.text
    assert "the lessons folder went away" in caplog.text
