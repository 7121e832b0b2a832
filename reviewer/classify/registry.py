"""The classifier providers this program knows, found by name.

Each provider module declares one :class:`~reviewer.classify.base.Provider` subclass as
``PROVIDER``, with its own facts (key variable, base URL variable and default, whether it takes
``n``, batches and prompt caching). Adding a provider is adding its module to
``PROVIDER_MODULES``; the runner and the command line only ever loop over this registry.
Provider modules import their SDK when a provider is made, so reading the registry is cheap.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from reviewer.classify.base import ConfigError, Provider

PROVIDER_MODULES = ("reviewer.classify.anthropic", "reviewer.classify.openai")


@cache
def providers() -> dict[str, type[Provider]]:
    """Every known provider class by name, in registry order."""
    found: dict[str, type[Provider]] = {}
    for module_name in PROVIDER_MODULES:
        cls = importlib.import_module(module_name).PROVIDER
        found[cls.name] = cls
    return found


def provider_names() -> list[str]:
    return list(providers())


def provider_class(name: str) -> type[Provider]:
    try:
        return providers()[name]
    except KeyError:
        raise ConfigError(
            f"unknown provider {name!r}; known providers: {', '.join(provider_names())} "
            "(any OpenAI-compatible server: openai:MODEL --base-url URL)"
        ) from None


def parse_model_spec(spec: str) -> tuple[str, str]:
    """(provider, model) from ``PROVIDER:MODEL``, or ConfigError saying what is expected."""
    provider, sep, model = spec.partition(":")
    if not sep or not model or not provider:
        examples = " or ".join(f"{c.name}:{c.example_model}" for c in providers().values())
        raise ConfigError(
            f"--model {spec!r}: expected PROVIDER:MODEL, e.g. {examples} "
            f"(providers: {', '.join(provider_names())})"
        )
    try:
        provider_class(provider)
    except ConfigError as exc:
        raise ConfigError(f"--model {spec!r}: {exc}") from None
    return provider, model


def make_provider(spec: str, **kwargs: Any) -> Provider:
    """A provider from ``PROVIDER:MODEL`` (e.g. ``anthropic:claude-3-5-haiku-latest``)."""
    provider, model = parse_model_spec(spec)
    return provider_class(provider)(model, **kwargs)


def key_variables() -> list[str]:
    return [c.key_env for c in providers().values()]


def base_url_variables() -> list[str]:
    return [c.base_url_env for c in providers().values()]
