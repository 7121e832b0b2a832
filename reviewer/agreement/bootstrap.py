"""The item bootstrap, done on pattern counts.

Resampling n items with replacement is the same as drawing how many times each item pattern
appears from a multinomial with the observed pattern shares, so a resample costs P draws
instead of n row copies. Every statistic of a field is evaluated on the same draws, which is
what lets differences between coefficients get an interval too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

# Keep each block of resampled weights under about 32 MB.
_BLOCK_CELLS = 4_000_000


def resampled_weights(
    multiplicity: np.ndarray, n_resamples: int, seed: int, order: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """Blocks of (b, P) pattern weights, n_resamples rows in all, reproducible from seed.

    ``order`` is a canonical order of the patterns (by what they say, not by how they happen
    to be coded): the draws are made in that order, so the same data and seed give the same
    resamples however the categories were numbered (a database and a ratings file differ)."""
    if order is not None:
        for block in resampled_weights(multiplicity[order], n_resamples, seed):
            out = np.empty_like(block)
            out[:, order] = block
            yield out
        return
    rng = np.random.default_rng(seed)
    n = int(multiplicity.sum())
    p = len(multiplicity)
    if n == 0 or p == 0:
        for _ in range(n_resamples):
            yield np.zeros((1, p))
        return
    shares = multiplicity / n
    block = max(1, min(n_resamples, _BLOCK_CELLS // max(p, 1)))
    done = 0
    while done < n_resamples:
        b = min(block, n_resamples - done)
        yield rng.multinomial(n, shares, size=b).astype(float)
        done += b


def bootstrap(
    statistics: dict[str, Callable[[np.ndarray], np.ndarray]],
    multiplicity: np.ndarray,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    order: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Evaluate every statistic on the same n_resamples item resamples."""
    out: dict[str, list[np.ndarray]] = {name: [] for name in statistics}
    for w in resampled_weights(multiplicity, n_resamples, seed, order):
        for name, fn in statistics.items():
            out[name].append(np.asarray(fn(w), dtype=float))
    return {name: (np.concatenate(parts) if parts else np.empty(0)) for name, parts in out.items()}


def percentile_interval(
    draws: np.ndarray, confidence: float = 0.95
) -> tuple[tuple[float, float] | None, int]:
    """The percentile interval of the defined draws, and how many draws were undefined."""
    finite = draws[np.isfinite(draws)]
    undefined = int(draws.size - finite.size)
    if finite.size < 2:
        return None, undefined
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return (float(low), float(high)), undefined
