"""Rate limits slow the run down: the limiter halves the calls in flight and pauses."""

from __future__ import annotations

import asyncio
import time

from reviewer.classify.limiter import AdaptiveLimiter


def test_rate_limit_halves_concurrency_pauses_and_recovers():
    async def scenario():
        lim = AdaptiveLimiter(8, min_pause=0.05)
        for _ in range(8):
            await lim.acquire()
        assert lim.active == 8
        lim.on_response(429, {"retry-after": "0.2"})
        lim.on_response(429, {"retry-after": "0.2"})  # same burst: one cut only
        assert lim.limit == 4 and lim.rate_limited == 2
        start = time.monotonic()
        await lim.wait_if_paused()
        assert time.monotonic() - start >= 0.15
        for _ in range(8):
            await lim.release()
        for _ in range(4):
            await lim.acquire()
        blocked = asyncio.create_task(lim.acquire())
        await asyncio.sleep(0.02)
        assert not blocked.done()  # a fifth call waits while the limit is 4
        for _ in range(20):
            lim.on_response(200, {})
        await asyncio.sleep(0.02)
        assert lim.limit > 5 and blocked.done()
        for _ in range(200):
            lim.on_response(200, {})
        assert lim.limit == 8

    asyncio.run(scenario())
