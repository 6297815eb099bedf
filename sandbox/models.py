"""Which container belongs to whom. Docker labels are immutable, so a warm-pool container's owner
lives here (and in the container's name, renamed on assignment); the reaper compares this table
with the engine's list and removes whatever has no live row."""

from __future__ import annotations

from django.db import models


class SandboxRecord(models.Model):
    """A sandbox's row (the sandbox as callers see it is sandboxes.Sandbox)."""

    class State(models.TextChoices):
        POOL = "pool", "pool"  # pre-started, nobody's yet
        LIVE = "live", "live"  # assigned to an owner
        RELEASING = "releasing", "releasing"  # removal scheduled; never handed out again

    container_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    instance = models.CharField(max_length=64, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.LIVE)
    # Opaque keys (hashes): never a raw session key.
    owner = models.CharField(max_length=64, blank=True, db_index=True)
    session = models.CharField(max_length=64, blank=True, db_index=True)
    # The server process that holds the sandbox; it refreshes heartbeat_at while alive, so the
    # sandboxes of a crashed process go stale and are reaped.
    holder = models.CharField(max_length=32)
    heartbeat_at = models.DateTimeField()
    created_at = models.DateTimeField()
    assigned_at = models.DateTimeField(null=True, blank=True)
    last_activity = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "sandbox_sandbox"  # the table keeps the model's first name
        indexes = [models.Index(fields=["instance", "state"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"
