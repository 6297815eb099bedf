"""Token buckets per client address (tutorial.client_address), for limits on what one address
may do in a burst and then at a steady rate: new sessions (tutorial.session_rate), failed logins
(exercises.login_limits). Thread-safe, since sync views run in worker threads; counted per
server process. The burst and the rate are settings read at each call, by name.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

# Addresses whose bucket is full again carry no information: forgotten past this many entries.
PRUNE_ABOVE = 10_000


class AddressBuckets:
    def __init__(self, burst_setting: str, per_minute_setting: str) -> None:
        self.burst_setting = burst_setting
        self.per_minute_setting = per_minute_setting
        self.lock = threading.Lock()
        self.buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, stamp)

    def _limits(self) -> tuple[float, float]:
        """(burst, tokens per second)."""
        burst = float(getattr(settings, self.burst_setting))
        return burst, getattr(settings, self.per_minute_setting) / 60.0

    def _tokens(self, address: str, now: float, burst: float, rate: float) -> float:
        tokens, stamp = self.buckets.get(address, (burst, now))
        return min(burst, tokens + (now - stamp) * rate)

    def wait(self, address: str) -> float:
        """Seconds until `address` may spend a token (0: now). Spends nothing."""
        burst, rate = self._limits()
        with self.lock:
            tokens = self._tokens(address, time.monotonic(), burst, rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate

    def take(self, address: str) -> float:
        """0 when `address` may spend a token now (and spends it), else seconds to wait."""
        burst, rate = self._limits()
        now = time.monotonic()
        with self.lock:
            tokens = self._tokens(address, now, burst, rate)
            if tokens < 1.0:
                self.buckets[address] = (tokens, now)
                return (1.0 - tokens) / rate
            self.buckets[address] = (tokens - 1.0, now)
            if len(self.buckets) > PRUNE_ABOVE:
                self._prune(now, burst, rate)
            return 0.0

    def give_back(self, address: str) -> None:
        """Returns a token taken for something that did not count after all (a login that
        succeeded): taken first, so that requests at once cannot all pass a check of wait()."""
        burst, rate = self._limits()
        now = time.monotonic()
        with self.lock:
            self.buckets[address] = (min(burst, self._tokens(address, now, burst, rate) + 1.0), now)

    def _prune(self, now: float, burst: float, rate: float) -> None:
        full = [a for a, (t, s) in self.buckets.items() if t + (now - s) * rate >= burst]
        for address in full:
            del self.buckets[address]
