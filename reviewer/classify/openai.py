"""OpenAI Chat Completions, Files and Batch through the official SDK (imported here, lazily).

Works with any OpenAI-compatible server (vLLM and the like) through ``--base-url`` or
``OPENAI_BASE_URL``. All votes of an item come from one request with ``n``. OpenAI caches
long prompt prefixes by itself; the cached token count is read from the usage.
"""

from __future__ import annotations

import json
import re
from typing import Any

from reviewer.classify.base import (
    BatchRequest,
    BatchState,
    CallFailed,
    Completion,
    NotSupportedN,
    Provider,
    RateLimited,
    describe_error,
    field_of,
    is_fatal,
    retry_after_seconds,
)


def _usage_completion(texts: list[str], usage: Any, response_id: str | None) -> Completion:
    prompt = int(field_of(usage, "prompt_tokens") or 0)
    cached = int(field_of(field_of(usage, "prompt_tokens_details"), "cached_tokens") or 0)
    return Completion(
        texts=texts,
        input_tokens=max(prompt - cached, 0),
        output_tokens=int(field_of(usage, "completion_tokens") or 0),
        cache_read_tokens=cached,
        response_id=response_id,
    )


_N_WORDS = re.compile(r"(?:'n'|\"n\"|`n`|\bn\b\s*(?:>|must|is not|not supported|=))", re.I)


def n_refused(exc: Exception) -> bool:
    """Whether a 400/422 says the server does not take ``n`` (its ``param``, or the text)."""
    if getattr(exc, "status_code", None) not in (400, 422):
        return False
    if getattr(exc, "param", None) == "n":
        return True
    return bool(_N_WORDS.search(str(exc)))


def _texts(choices: Any) -> list[str]:
    out = []
    for choice in sorted(choices or [], key=lambda c: field_of(c, "index") or 0):
        message = field_of(choice, "message")
        out.append(field_of(message, "content") or "")
    return out


class OpenAIProvider(Provider):
    name = "openai"
    key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = "https://api.openai.com/v1"
    example_model = "gpt-4o-mini"
    supports_n = True
    supports_batch = True
    supports_prompt_caching = True  # automatic on the server's side; read from the usage

    def __init__(self, model: str, **kwargs: Any):
        super().__init__(model, **kwargs)
        self.check_key()
        import httpx2
        import openai

        self._sdk = openai
        self._httpx = httpx2
        self.clients = self._make_clients(openai.AsyncOpenAI, openai.DefaultAsyncHttpxClient)

    def _body(self, system: str, user: str, n: int, temperature: float, max_tokens: int) -> dict:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "temperature": temperature,
            "max_completion_tokens": max_tokens,
        }
        if n != 1:
            body["n"] = n
        return body

    def _raise(self, exc: Exception, n: int = 1) -> None:
        if isinstance(exc, self._sdk.RateLimitError):
            raise RateLimited(
                describe_error(exc), retry_after_seconds(getattr(exc.response, "headers", None))
            ) from None
        if n > 1 and n_refused(exc):
            raise NotSupportedN(describe_error(exc)) from None
        raise CallFailed(describe_error(exc), fatal=is_fatal(exc)) from None

    async def complete(
        self, system: str, user: str, *, n: int, temperature: float, max_tokens: int
    ) -> Completion:
        try:
            # The client's generic post: the SDK's auth, retries and timeouts without typed
            # models, which would cost more CPU per call than the rest of the runner.
            raw = await self.client.post(
                "/chat/completions",
                body=self._body(system, user, n, temperature, max_tokens),
                cast_to=self._httpx.Response,
            )
            response = raw.json()
        except Exception as exc:
            self._raise(exc, n)
        texts = _texts(response.get("choices"))
        completion = _usage_completion(texts, response.get("usage"), response.get("id"))
        if n > 1 and len(texts) == 1:  # a server that ignores n answers once
            raise NotSupportedN(f"asked for n={n} samples, the server returned 1", completion)
        if len(texts) != n:
            raise CallFailed(f"asked for n={n} samples, the server returned {len(texts)}")
        return completion

    async def submit_batch(
        self, requests: list[BatchRequest], *, temperature: float, max_tokens: int
    ) -> str:
        lines = [
            json.dumps(
                {
                    "custom_id": r.custom_id,
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": self._body(r.system, r.user, r.n, temperature, max_tokens),
                },
                ensure_ascii=False,
            )
            for r in requests
        ]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        try:
            uploaded = await self.client.files.create(
                file=("reviewer-batch.jsonl", data, "application/jsonl"), purpose="batch"
            )
            batch = await self.client.batches.create(
                input_file_id=uploaded.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
            )
        except Exception as exc:
            self._raise(exc)
        return batch.id

    async def batch_state(self, batch_id: str) -> BatchState:
        try:
            batch = await self.client.batches.retrieve(batch_id)
        except Exception as exc:
            self._raise(exc)
        counts = batch.request_counts
        done = batch.status in ("completed", "failed", "expired", "cancelled")
        return BatchState(
            done=done,
            status=batch.status,
            counts={k: int(getattr(counts, k, 0) or 0) for k in ("total", "completed", "failed")}
            if counts is not None
            else {},
        )

    async def batch_results(self, batch_id: str) -> list[tuple[str, Completion | str]]:
        out: list[tuple[str, Completion | str]] = []
        try:
            batch = await self.client.batches.retrieve(batch_id)
            for file_id in (batch.output_file_id, batch.error_file_id):
                if not file_id:
                    continue
                content = await self.client.files.content(file_id)
                for line in content.text.splitlines():
                    if not line.strip():
                        continue
                    out.append(_batch_line(json.loads(line)))
        except Exception as exc:
            self._raise(exc)
        return out


def _batch_line(row: dict[str, Any]) -> tuple[str, Completion | str]:
    custom_id = row.get("custom_id", "")
    response = row.get("response") or {}
    error = row.get("error")
    if error or response.get("status_code") != 200:
        detail = error or response.get("body", {}).get("error") or response.get("status_code")
        return custom_id, f"batch request failed: {json.dumps(detail)[:500]}"
    body = response.get("body") or {}
    return custom_id, _usage_completion(
        _texts(body.get("choices")), body.get("usage"), body.get("id")
    )


PROVIDER = OpenAIProvider
