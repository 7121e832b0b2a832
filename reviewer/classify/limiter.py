"""Adaptive concurrency: at most ``--concurrency`` calls in flight, fewer while rate-limited.

Every HTTP response (including the SDK's own retries) reports its status here. A 429 halves
the number of calls allowed in flight and pauses new attempts for the time the server asked
(retry-after); each success lets one more call in, slowly, back up to the limit. So a rate
limit slows the run down instead of failing it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from reviewer.classify.base import retry_after_seconds


class AdaptiveLimiter:
    def __init__(self, max_concurrency: int, *, min_pause: float = 0.2):
        if max_concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.max = max_concurrency
        self.limit = float(max_concurrency)
        self.active = 0
        self.rate_limited = 0
        self.min_pause = min_pause
        self._paused_until = 0.0
        self._last_cut = 0.0
        self._cond: asyncio.Condition | None = None

    @property
    def cond(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def acquire(self) -> None:
        async with self.cond:
            while self.active >= max(1, int(self.limit)):
                await self.cond.wait()
            self.active += 1

    async def release(self) -> None:
        async with self.cond:
            self.active -= 1
            self.cond.notify_all()

    async def wait_if_paused(self) -> None:
        """Called before every HTTP attempt: hold it while the server asked us to back off."""
        while True:
            delay = self._paused_until - time.monotonic()
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    def on_response(self, status: int, headers: Any) -> None:
        if status == 429:
            self.on_rate_limited(retry_after_seconds(headers))
        elif status < 400:
            self.on_success()

    def on_rate_limited(self, retry_after: float | None) -> None:
        self.rate_limited += 1
        now = time.monotonic()
        pause = retry_after if retry_after is not None else self.min_pause
        self._paused_until = max(self._paused_until, now + pause)
        # One cut per burst: the many calls in flight when the limit hits all see a 429.
        if now - self._last_cut > max(pause, 0.5):
            self.limit = max(1.0, self.limit / 2)
            self._last_cut = now

    def on_success(self) -> None:
        if self.limit < self.max:
            old = int(self.limit)
            self.limit = min(float(self.max), self.limit + 1.0 / max(self.limit, 1.0))
            if int(self.limit) > old and self._cond is not None:
                asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        async with self.cond:
            self.cond.notify_all()
