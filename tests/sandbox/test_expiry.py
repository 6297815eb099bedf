from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox import engine
from sandbox.models import SandboxRecord

pytestmark = pytest.mark.docker


async def test_expiry_gives_the_idle_and_the_lifetime_deadlines(settings) -> None:
    sandbox = await engine.acquire("owner-expiry")
    row = await SandboxRecord.objects.aget(container_id=sandbox.container_id)
    deadlines = await engine.expiry(sandbox)
    assert deadlines.idle_at == row.last_activity + timedelta(seconds=15 * 60)
    assert deadlines.lifetime_at == sandbox.expires_at == row.created_at + timedelta(hours=2)
    assert deadlines.reason == "idle"
    assert deadlines.at == deadlines.idle_at


async def test_touch_pushes_the_idle_deadline_back() -> None:
    sandbox = await engine.acquire("owner-touch")
    an_hour_ago = timezone.now() - timedelta(minutes=10)
    await SandboxRecord.objects.filter(container_id=sandbox.container_id).aupdate(
        last_activity=an_hour_ago
    )
    before = await engine.expiry(sandbox)
    await engine.touch(sandbox)
    after = await engine.expiry(sandbox)
    assert after.idle_at - before.idle_at >= timedelta(minutes=9)


async def test_an_idle_sandbox_is_not_handed_out_again() -> None:
    sandbox = await engine.acquire("owner-idle")
    long_ago = timezone.now() - timedelta(minutes=16)
    await SandboxRecord.objects.filter(container_id=sandbox.container_id).aupdate(
        last_activity=long_ago
    )
    assert await engine.get("owner-idle") is None
    fresh = await engine.acquire("owner-idle")
    assert fresh.container_id != sandbox.container_id


async def test_the_lifetime_cap_applies_even_to_a_busy_sandbox() -> None:
    sandbox = await engine.acquire("owner-lifetime")
    await SandboxRecord.objects.filter(container_id=sandbox.container_id).aupdate(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    await engine.touch(sandbox)
    assert (await engine.expiry(sandbox)).reason == "lifetime"
    assert await engine.get("owner-lifetime") is None
