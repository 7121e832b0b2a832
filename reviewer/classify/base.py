"""What every provider offers the runner, and the errors it raises.

Providers turn SDK exceptions into :class:`RateLimited` (slow down and try again later) or
:class:`CallFailed` (record the error; a later run tries again). Error text passes through
:func:`scrub` so that an API key can never reach the database or the terminal.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

CONNECTIONS_PER_CLIENT = 2


@dataclass
class Completion:
    """One response: its sample texts and its usage (input excludes cached tokens)."""

    texts: list[str]
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    response_id: str | None = None


@dataclass
class BatchRequest:
    custom_id: str
    system: str
    user: str
    n: int


@dataclass
class BatchState:
    done: bool
    status: str
    counts: dict[str, int] = field(default_factory=dict)


class ProviderError(Exception):
    """Base of the errors a provider raises to the runner."""


class RateLimited(ProviderError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class CallFailed(ProviderError):
    """A call that failed after the SDK's own retries (or could not be retried).

    ``fatal`` marks failures that the next call would meet too (a refused key, an unknown
    model): the run stops at the first one instead of paying nothing for many more.
    """

    def __init__(self, message: str, *, fatal: bool = False):
        super().__init__(message)
        self.fatal = fatal


class NotSupportedN(ProviderError):
    """The server refused ``n`` > 1 (or answered it with fewer samples): ask once per vote.

    ``completion`` is the answer that came back anyway, if any, so its cost is counted.
    """

    def __init__(self, message: str, completion: Completion | None = None):
        super().__init__(message)
        self.completion = completion


class ConfigError(ProviderError):
    """Missing key, unknown provider, bad base URL: nothing was sent."""


_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|sk-ant-[A-Za-z0-9_\-]{8,})")
#: A key shorter than this is a placeholder (a local server that needs none, "x", "none"):
#: masking it would garble ordinary text, and it opens nothing.
MIN_SECRET_LENGTH = 8
_SECRET_QUERY = re.compile(
    r"(key|token|secret|password|passwd|pwd|auth|credential|signature|sig)", re.IGNORECASE
)


def secret_values() -> list[str]:
    """The API keys this process could send: every registered provider's key variable (see
    :mod:`reviewer.classify.registry`), and any other ``*KEY*`` / ``*TOKEN*`` / ``*SECRET*``
    variable of the environment, longest first (so a key that contains another is masked
    whole)."""
    from reviewer.classify.registry import key_variables

    names = set(key_variables())
    values = set()
    for name, value in os.environ.items():
        if name in names or "KEY" in name or "TOKEN" in name or "SECRET" in name:
            value = value.strip()
            if len(value) >= MIN_SECRET_LENGTH:
                values.add(value)
    return sorted(values, key=len, reverse=True)


def scrub(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with every API key from the environment, and anything key-shaped, masked."""
    if not isinstance(text, str):
        return text
    for value in secret_values() if secrets is None else secrets:
        if value in text:
            text = text.replace(value, "***")
    return _KEYLIKE.sub("***", text)


def scrub_all(value: Any, secrets: list[str] | None = None) -> Any:
    """A copy of a JSON-shaped value (strings, lists, dicts) with :func:`scrub` applied to
    every string in it, keys included."""
    secrets = secret_values() if secrets is None else secrets
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, list | tuple):
        return [scrub_all(v, secrets) for v in value]
    if isinstance(value, dict):
        return {scrub_all(k, secrets): scrub_all(v, secrets) for k, v in value.items()}
    return value


def url_without_credentials(url: str | None) -> str | None:
    """A base URL fit to store and show: no ``user:password@``, no query parameter that
    carries a key or token (others, like ``api-version``, stay), no fragment, no key."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    if not parts.scheme and not parts.netloc:  # not a URL at all: mask what looks secret
        return scrub(url)
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _SECRET_QUERY.search(k)
        ]
    )
    return scrub(urlunsplit((parts.scheme, netloc, parts.path, query, "")))


def describe_error(exc: BaseException) -> str:
    """A one-line, key-free description of an SDK or network error."""
    status = getattr(exc, "status_code", None)
    message = str(exc) or type(exc).__name__
    head = f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
    return scrub(f"{head}: {message}")[:2000]


def is_fatal(exc: BaseException) -> bool:
    """Errors every later call would meet too: a refused key, no permission, no such model."""
    return getattr(exc, "status_code", None) in (401, 403, 404)


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds a 429 asks us to wait (retry-after-ms or retry-after), if it says."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return float(ms) / 1000
        value = headers.get("retry-after")
        if value is not None:
            return float(value)
    except (TypeError, ValueError):
        return None
    return None


# Called by the HTTP hooks: before every attempt (await a global pause) and after every
# response (report its status and headers), retries made inside the SDK included.
BeforeHook = Callable[[], Awaitable[None]]
AfterHook = Callable[[int, Any], None]


class Provider:
    """A model behind an SDK. Subclasses implement complete() and the batch methods, and
    declare what the runner and the command line need to know about them: the runner reads
    these facts and never names a provider (see :mod:`reviewer.classify.registry`)."""

    name: ClassVar[str] = ""
    #: the environment variable holding the API key (keys come from nowhere else)
    key_env: ClassVar[str] = ""
    #: the environment variable that may point the SDK at another server
    base_url_env: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    example_model: ClassVar[str] = ""
    #: one request can return several samples (``n``); servers may still refuse it
    supports_n: ClassVar[bool] = False
    supports_batch: ClassVar[bool] = False
    #: the fixed rubric prompt is marked for the provider's prompt cache
    supports_prompt_caching: ClassVar[bool] = False

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 5,
        concurrency: int = 8,
        before_attempt: BeforeHook | None = None,
        after_response: AfterHook | None = None,
    ):
        self.model = model
        # Several SDK clients, each with a few connections: httpx's pool checks every idle
        # connection on each request, which at 32+ connections costs more CPU than the call.
        self.n_clients = max(1, -(-concurrency // CONNECTIONS_PER_CLIENT))
        self._next = 0
        self.requested_base_url = base_url or os.environ.get(self.base_url_env) or None
        self.timeout = timeout
        self.max_retries = max_retries
        self._before = before_attempt
        self._after = after_response
        self._ssl: Any = None

    @classmethod
    def effective_base_url(cls, base_url: str | None) -> str:
        """The URL calls go to: the option, else the environment variable, else the default."""
        url = base_url or os.environ.get(cls.base_url_env) or cls.default_base_url
        return url.rstrip("/")

    @classmethod
    def check_key(cls) -> None:
        var = cls.key_env
        if not os.environ.get(var):
            raise ConfigError(
                f"{cls.name}: no API key: set the environment variable {var} (keys are read "
                "only from the environment and never stored). For a local OpenAI-compatible "
                f"server that needs no key, set {var} to any placeholder."
            )

    def _make_clients(self, client_class: Any, http_client_class: Any) -> list[Any]:
        """The SDK clients this provider spreads its calls over, with our hooks and limits."""
        try:
            return [
                client_class(
                    base_url=self.requested_base_url,
                    max_retries=self.max_retries,
                    timeout=self.timeout,
                    http_client=self._http_client(http_client_class),
                )
                for _ in range(self.n_clients)
            ]
        except Exception as exc:  # bad URL and the like: nothing was sent yet
            raise ConfigError(
                f"{self.name}: cannot create the client: {describe_error(exc)}"
            ) from None

    def _http_client(self, factory: Any) -> Any:
        hooks: dict[str, list[Any]] = {"request": [], "response": []}
        before, after = self._before, self._after
        if before is not None:

            async def on_request(request: Any) -> None:
                await before()

            hooks["request"].append(on_request)
        if after is not None:

            async def on_response(response: Any) -> None:
                after(response.status_code, response.headers)

            hooks["response"].append(on_response)
        if self._ssl is None:
            import httpx2

            # One TLS context for all the clients: loading the CA bundle costs more than a
            # hundred milliseconds of CPU each time.
            self._ssl = httpx2.create_ssl_context()
        return factory(event_hooks=hooks, timeout=self.timeout, verify=self._ssl)

    @property
    def base_url(self) -> str:
        return str(self.clients[0].base_url)

    @property
    def client(self) -> Any:
        """The next client, round robin (batch operations may use any of them)."""
        self._next = (self._next + 1) % len(self.clients)
        return self.clients[self._next]

    async def close(self) -> None:
        for c in self.clients:
            await c.close()

    async def complete(
        self, system: str, user: str, *, n: int, temperature: float, max_tokens: int
    ) -> Completion:
        raise NotImplementedError

    async def submit_batch(
        self, requests: list[BatchRequest], *, temperature: float, max_tokens: int
    ) -> str:
        raise NotImplementedError

    async def batch_state(self, batch_id: str) -> BatchState:
        raise NotImplementedError

    async def batch_results(self, batch_id: str) -> list[tuple[str, Completion | str]]:
        """(custom_id, Completion or error text) for every request of a finished batch."""
        raise NotImplementedError


def field_of(obj: Any, name: str) -> Any:
    """A field of an SDK response, whether the SDK gave a dict or a typed object."""
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
