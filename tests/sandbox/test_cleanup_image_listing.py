"""Students leaving at once share the engine's image list at clean-up, and a clean-up never
uses a list begun before it asked (it could miss an image made just before)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from typing import Any

import pytest
from django.conf import settings

from sandbox.gateway.cleanup import SharedImageListing, image_listing
from sandbox.gateway.upstream import Upstream

pytestmark = pytest.mark.docker

IMAGE = "muelle/busybox"


def _tags(images: list[Any]) -> set[str]:
    return {tag for image in images for tag in image.get("RepoTags") or []}


def _docker(*args: str) -> None:
    subprocess.run(["timeout", "60", "docker", *args], check=True, capture_output=True)


def test_clean_ups_that_ask_together_share_one_listing() -> None:
    async def scenario() -> tuple[int, list[list[Any]], bool]:
        engine = Upstream(settings.DOCKER_GATEWAY_ENGINE_SOCKET)
        listing = await image_listing(engine)
        since = listing.mark()
        lists = await asyncio.gather(*(listing.images(engine, since) for _ in range(5)))
        same = await image_listing(Upstream(settings.DOCKER_GATEWAY_ENGINE_SOCKET)) is listing
        return listing.started - since, lists, same

    listings, lists, same = asyncio.run(scenario())
    assert listings == 1
    assert all(found is lists[0] for found in lists)
    assert any(tag.startswith(f"{IMAGE}:") for tag in _tags(lists[0]))
    assert same  # one shared listing per engine on a loop


def test_a_clean_up_never_takes_a_listing_begun_before_it_asked() -> None:
    late = f"muelle-test-late-{secrets.token_hex(4)}:latest"

    async def scenario() -> tuple[set[str], int]:
        engine = Upstream(settings.DOCKER_GATEWAY_ENGINE_SOCKET)
        listing = SharedImageListing()
        first = asyncio.ensure_future(listing.images(engine, listing.mark()))
        await asyncio.sleep(0)  # the first listing has begun
        assert listing.started == 1
        _docker("tag", IMAGE, late)  # made after it began (blocking: it cannot finish first)
        second = await listing.images(engine, listing.mark())
        await first
        return _tags(second), listing.started

    try:
        seen, started = asyncio.run(scenario())
    finally:
        subprocess.run(["timeout", "60", "docker", "rmi", late], capture_output=True)
    assert late in seen
    assert started == 2
