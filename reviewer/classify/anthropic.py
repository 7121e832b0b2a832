"""Anthropic Messages and Message Batches through the official SDK (imported here, lazily).

The rubric's system part carries ``cache_control``, so after the first call every further call
reads it from the prompt cache. The Messages API has no ``n``: each vote is its own request.
"""

from __future__ import annotations

import json
from typing import Any

from reviewer.classify.base import (
    BatchRequest,
    BatchState,
    CallFailed,
    Completion,
    Provider,
    RateLimited,
    describe_error,
    field_of,
    is_fatal,
    retry_after_seconds,
)


def _completion(message: Any) -> Completion:
    """A Completion from a Messages response (a dict or the SDK's model)."""
    text = "".join(
        field_of(block, "text") or ""
        for block in (field_of(message, "content") or [])
        if field_of(block, "type") == "text"
    )
    usage = field_of(message, "usage")
    return Completion(
        texts=[text],
        input_tokens=int(field_of(usage, "input_tokens") or 0),
        output_tokens=int(field_of(usage, "output_tokens") or 0),
        cache_read_tokens=int(field_of(usage, "cache_read_input_tokens") or 0),
        cache_write_tokens=int(field_of(usage, "cache_creation_input_tokens") or 0),
        response_id=field_of(message, "id"),
    )


class AnthropicProvider(Provider):
    name = "anthropic"
    key_env = "ANTHROPIC_API_KEY"
    base_url_env = "ANTHROPIC_BASE_URL"
    default_base_url = "https://api.anthropic.com"
    example_model = "claude-3-5-haiku-latest"
    supports_n = False
    supports_batch = True
    supports_prompt_caching = True

    def __init__(self, model: str, **kwargs: Any):
        super().__init__(model, **kwargs)
        self.check_key()
        import anthropic
        import httpx2

        self._sdk = anthropic
        self._head_key: tuple | None = None
        self._head = ""
        self._httpx = httpx2
        self.clients = self._make_clients(
            anthropic.AsyncAnthropic, anthropic.DefaultAsyncHttpxClient
        )

    def _params(self, system: str, user: str, temperature: float, max_tokens: int) -> dict:
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": user}],
        }
        # This SDK version has no temperature argument; 1.0 is the API's default, and any
        # other value is sent as an extra body field for the models that still accept it.
        if temperature != 1.0:
            params["temperature"] = temperature
        return params

    def _content(self, system: str, user: str, temperature: float, max_tokens: int) -> bytes:
        """The request body, JSON-encoded with the fixed part (model, rubric prompt) encoded
        once: re-encoding a few kilobytes of system prompt on every vote is measurable CPU."""
        key = (system, temperature, max_tokens)
        if self._head_key != key:
            params = self._params(system, "", temperature, max_tokens)
            del params["messages"]
            self._head = json.dumps(params)[:-1] + ', "messages": [{"role": "user", "content": '
            self._head_key = key
        return (self._head + json.dumps(user) + "}]}").encode()

    def _raise(self, exc: Exception) -> None:
        if isinstance(exc, self._sdk.RateLimitError):
            raise RateLimited(
                describe_error(exc), retry_after_seconds(getattr(exc.response, "headers", None))
            ) from None
        raise CallFailed(describe_error(exc), fatal=is_fatal(exc)) from None

    async def complete(
        self, system: str, user: str, *, n: int, temperature: float, max_tokens: int
    ) -> Completion:
        if n != 1:
            raise ValueError("the Anthropic Messages API returns one sample per request")
        try:
            # The client's generic post: the SDK's auth, headers, timeouts and retries, without
            # building typed request and response models, which cost more CPU per call than
            # everything else the runner does (see bench/bench_classify.py).
            response = await self.client.post(
                "/v1/messages",
                content=self._content(system, user, temperature, max_tokens),
                cast_to=self._httpx.Response,
            )
            message = response.json()
        except Exception as exc:
            self._raise(exc)
        return _completion(message)

    async def submit_batch(
        self, requests: list[BatchRequest], *, temperature: float, max_tokens: int
    ) -> str:
        items = [
            {
                "custom_id": r.custom_id,
                "params": self._params(r.system, r.user, temperature, max_tokens),
            }
            for r in requests
        ]
        try:
            batch = await self.client.messages.batches.create(requests=items)
        except Exception as exc:
            self._raise(exc)
        return batch.id

    async def batch_state(self, batch_id: str) -> BatchState:
        try:
            batch = await self.client.messages.batches.retrieve(batch_id)
        except Exception as exc:
            self._raise(exc)
        counts = batch.request_counts
        return BatchState(
            done=batch.processing_status == "ended",
            status=batch.processing_status,
            counts={
                k: int(getattr(counts, k, 0) or 0)
                for k in ("processing", "succeeded", "errored", "canceled", "expired")
            },
        )

    async def batch_results(self, batch_id: str) -> list[tuple[str, Completion | str]]:
        out: list[tuple[str, Completion | str]] = []
        try:
            decoder = await self.client.messages.batches.results(batch_id)
            async for item in decoder:
                result = item.result
                if result.type == "succeeded":
                    out.append((item.custom_id, _completion(result.message)))
                else:
                    detail = getattr(result, "error", None)
                    out.append((item.custom_id, f"batch request {result.type}: {detail}"))
        except Exception as exc:
            self._raise(exc)
        return out


PROVIDER = AnthropicProvider
