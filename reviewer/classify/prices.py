"""Token prices, for cost accounting and the --max-cost cap.

Prices are USD per million tokens and change often: the table below is a starting point, and
``--prices FILE`` (TOML or JSON) overrides or extends it. A file is either a table of models or
has them under ``models``; each model gives ``input`` and ``output`` and optionally
``cache_read``, ``cache_write`` and ``batch_discount`` (the fraction paid in batch mode)::

    [models."gpt-4o-mini"]
    input = 0.15
    output = 0.60
    cache_read = 0.075

A model name matches the longest table entry it starts with, so ``claude-3-5-haiku-20241022``
uses ``claude-3-5-haiku``.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    batch_discount: float = 0.5

    def cost(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        batch: bool = False,
    ) -> float:
        """Cost in USD; ``input_tokens`` excludes the tokens read from or written to cache."""
        read = self.cache_read if self.cache_read is not None else self.input
        write = self.cache_write if self.cache_write is not None else self.input
        usd = (
            input_tokens * self.input
            + output_tokens * self.output
            + cache_read_tokens * read
            + cache_write_tokens * write
        ) / 1_000_000
        return usd * (self.batch_discount if batch else 1.0)


def _anthropic(inp: float, out: float) -> Price:
    return Price(inp, out, cache_read=inp * 0.1, cache_write=inp * 1.25)


def _openai(inp: float, out: float, cached: float | None = None) -> Price:
    return Price(inp, out, cache_read=inp * 0.5 if cached is None else cached)


DEFAULT_PRICES: dict[str, Price] = {
    "anthropic:claude-3-haiku": _anthropic(0.25, 1.25),
    "anthropic:claude-3-5-haiku": _anthropic(0.80, 4.0),
    "anthropic:claude-haiku-4": _anthropic(1.0, 5.0),
    "anthropic:claude-3-5-sonnet": _anthropic(3.0, 15.0),
    "anthropic:claude-3-7-sonnet": _anthropic(3.0, 15.0),
    "anthropic:claude-sonnet-4": _anthropic(3.0, 15.0),
    "anthropic:claude-3-opus": _anthropic(15.0, 75.0),
    "anthropic:claude-opus-4": _anthropic(15.0, 75.0),
    "anthropic:claude-opus-4-5": _anthropic(5.0, 25.0),
    "openai:gpt-4o": _openai(2.50, 10.0),
    "openai:gpt-4o-mini": _openai(0.15, 0.60),
    "openai:gpt-4.1": _openai(2.0, 8.0, 0.50),
    "openai:gpt-4.1-mini": _openai(0.40, 1.60, 0.10),
    "openai:gpt-4.1-nano": _openai(0.10, 0.40, 0.025),
    "openai:gpt-5": _openai(1.25, 10.0, 0.125),
    "openai:gpt-5-mini": _openai(0.25, 2.0, 0.025),
    "openai:o3": _openai(2.0, 8.0, 0.50),
    "openai:o4-mini": _openai(1.10, 4.40, 0.275),
}


class PriceFileError(ValueError):
    """A --prices file that cannot be read; the message names the file and the entry."""


def load_prices(path: str | Path) -> dict[str, Price]:
    """Read a price file. Keys are ``provider:model`` or a bare model name (any provider)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PriceFileError(f"{path}: cannot read price file ({exc.strerror})") from None
    try:
        data: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PriceFileError(
            f"{path}: not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}"
        ) from None
    if isinstance(data, dict) and isinstance(data.get("models"), dict):
        data = data["models"]
    if not isinstance(data, dict):
        raise PriceFileError(f"{path}: expected a table of models")
    prices: dict[str, Price] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or not {"input", "output"} <= entry.keys():
            raise PriceFileError(f"{path}: model {name!r} needs 'input' and 'output' prices")
        try:
            prices[name] = Price(
                input=float(entry["input"]),
                output=float(entry["output"]),
                cache_read=None if entry.get("cache_read") is None else float(entry["cache_read"]),
                cache_write=None
                if entry.get("cache_write") is None
                else float(entry["cache_write"]),
                batch_discount=float(entry.get("batch_discount", 0.5)),
            )
        except (TypeError, ValueError):
            raise PriceFileError(
                f"{path}: model {name!r} has a price that is not a number"
            ) from None
    return prices


def find_price(
    provider: str, model: str, overrides: dict[str, Price] | None = None
) -> Price | None:
    """The price of ``provider:model``: user overrides first, longest prefix wins."""
    for table in (overrides or {}, DEFAULT_PRICES):
        best: tuple[int, Price] | None = None
        for key, price in table.items():
            prov, _, name = key.rpartition(":")
            if prov and prov != provider:
                continue
            if model.startswith(name) and (best is None or len(name) > best[0]):
                best = (len(name), price)
        if best is not None:
            return best[1]
    return None
