"""`ModelBrain`: each model turn of a run is one streamed Chat Completions call.

```python
brain = ModelBrain(load_model_config("models.yaml"), clock=SystemClock())
app = create_app(brain=brain)
```

A turn: the run and thread become a chat request (`mapping.py`); the stream's text and
function-call arguments are published as they arrive (`stream.py`); the turn ends with the
function calls for the client, the `python` / `file_search` calls for the server, or nothing
(the text was the reply). Failures (`failures.py`) are retried with exponential backoff while
the run has time left (its `expires_at` on the server's clock, less `margin`); a retry never
publishes again what the interrupted attempt published (`attempts.Replay`). Cancelling the
consumer of `respond()` (the engine cancelling the run) closes the model's response stream.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from ..brains import (
    BrainEvent,
    Fail,
    Incomplete,
    Turn,
)
from ..clock import Clock
from .attempts import Attempts, Replay, Retry, RetryPolicy
from .failures import Problem, classify
from .mapping import ImageSource, chat_request
from .providers import ModelConfig, Provider, Route
from .stream import Answer, Assembler, ending

__all__ = ["ModelBrain", "RetryPolicy"]

log = logging.getLogger("runflow_server.model")


class ModelBrain:
    """Runs the assistant on a Chat Completions model (see the module docstring).

    Args:
        config: the providers and which one serves which assistant model.
        clock: the server's clock (run deadlines and backoff sleeps use it).
        http_client: an `httpx2.AsyncClient` for every provider (tests route it to a fake).
        images: resolves an `image_file` part's file id to a URL the model can read.
        max_turns: model turns a run may take before it fails (each tool round is one).
        retry: the backoff between attempts.
        margin: seconds before `expires_at` after which no new attempt starts.
    """

    limits_its_output = True  # the model keeps to max_completion_tokens (or says `length`)

    def __init__(
        self,
        config: ModelConfig,
        *,
        clock: Clock,
        http_client: httpx2.AsyncClient | None = None,
        images: ImageSource | None = None,
        max_turns: int = 24,
        retry: RetryPolicy | None = None,
        margin: float = 5.0,
    ) -> None:
        self.config = config
        self.images = images
        self._clock = clock
        self._http = http_client
        self._clients: dict[str, openai.AsyncOpenAI] = {}
        self._max_turns = max_turns
        self._retry = retry or RetryPolicy()
        self._margin = margin

    def __repr__(self) -> str:
        names = [provider.name for provider in self.config.providers]
        return f"ModelBrain(providers={names})"

    def route(self, model: str) -> Route:
        return self.config.route(model)

    async def aclose(self) -> None:
        """Close the provider clients this brain opened."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()

    def _client(self, provider: Provider) -> openai.AsyncOpenAI:
        client = self._clients.get(provider.name)
        if client is None:
            client = self._clients[provider.name] = provider.client(self._http)
        return client

    async def respond(self, turn: Turn) -> AsyncIterator[BrainEvent]:
        """One model turn of the run, as brain events."""
        if len(turn.rounds) >= self._max_turns:
            message = f"The run passed its limit of {self._max_turns} model turns."
            yield Fail("server_error", message)
            return
        route = self.route(str(turn.run.get("model") or turn.assistant.get("model") or ""))
        deadline = _deadline(turn.run, self._clock.now()) - self._margin
        attempts = Attempts(self._retry, truncates=_truncates(turn.run))
        replay = Replay()
        while True:
            request = chat_request(
                turn,
                route.model,
                route.provider.options,
                images=self.images,
                drop_oldest=attempts.drop,
            )
            if isinstance(request, Fail | Incomplete):
                yield request
                return
            if (too_long := attempts.check(len(request["messages"]))) is not None:
                yield too_long
                return
            attempt = _Attempt(Assembler())
            async with aclosing(self._stream(route, request, deadline, attempt, replay)) as events:
                async for event in events:
                    yield event
                    if isinstance(event, Fail):
                        return
            answer = attempt.assembler.answer()
            if answer.usage is not None:
                yield answer.usage
            problem = attempt.problem or _incomplete_answer(answer, route.provider.name)
            if problem is None:
                parallel = turn.run.get("parallel_tool_calls") is not False
                for event in ending(
                    answer, fallback_query=_last_user_text(turn), parallel=parallel
                ):
                    yield event
                return
            then = attempts.after(problem, now=self._clock.now(), deadline=deadline)
            if isinstance(then, Fail):
                yield then
                return
            if isinstance(then, Retry):
                log.info(
                    "model call retried", extra={"provider": route.provider.name, "wait": then.wait}
                )
                await self._clock.sleep_until(self._clock.now() + then.wait)
            replay.next_attempt()

    async def _stream(
        self,
        route: Route,
        request: Mapping[str, Any],
        deadline: float,
        attempt: _Attempt,
        replay: Replay,
    ) -> AsyncGenerator[BrainEvent, None]:
        """One attempt's events not yet published; what went wrong, if anything, in `attempt`."""
        try:
            async with aclosing(self._call(route, request, deadline, attempt.assembler)) as events:
                async for event in events:
                    kept = replay.keep(event)
                    if kept is not None:
                        yield kept
                    if isinstance(kept, Fail):
                        return
        except Exception as exc:
            secret = route.provider.secret()
            attempt.problem = classify(exc, provider=route.provider.name, secret=secret)
            if attempt.problem is None:
                raise

    async def _call(
        self, route: Route, request: Mapping[str, Any], deadline: float, assembler: Assembler
    ) -> AsyncGenerator[BrainEvent, None]:
        """One streamed call; its events as they arrive, the rest in `assembler`."""
        left = deadline - self._clock.now()
        if left <= 0:
            raise openai.APITimeoutError(httpx2.Request("POST", "chat/completions"))
        timeout = min(route.provider.timeout, left)
        client = self._client(route.provider)
        stream = await client.chat.completions.create(**request, timeout=timeout)
        async with stream:
            async for chunk in stream:
                for event in assembler.feed(chunk.to_dict()):
                    yield event


@dataclass
class _Attempt:
    assembler: Assembler
    problem: Problem | None = None


def _deadline(run: Mapping[str, Any], now: float) -> float:
    expires_at = run.get("expires_at")
    return float(expires_at) if isinstance(expires_at, int | float) else now + 600.0


def _truncates(run: Mapping[str, Any]) -> bool:
    strategy = run.get("truncation_strategy") or {"type": "auto"}
    return strategy.get("type") == "auto"


def _last_user_text(turn: Turn) -> str:
    for message in reversed(turn.messages):
        if message.get("role") == "user":
            parts = message.get("content") or []
            return " ".join(p["text"]["value"] for p in parts if p.get("type") == "text")
    return ""


def _incomplete_answer(answer: Answer, provider: str) -> Problem | None:
    """A stream that ended without error but said nothing usable: calls cut before their
    arguments were whole, or nothing at all. (Text without a `finish_reason` stands: some
    servers never send one; a connection lost mid-answer raises instead, and is retried.)"""
    calls = answer.named_calls()
    if answer.cut and calls and not all(call.complete() for call in calls):
        message = f"The model at {provider!r} stopped streaming before its answer was complete."
        return Problem("server_error", message, retryable=True)
    if not answer.text and not calls and answer.finish_reason != "length":
        message = f"The model at {provider!r} answered with neither text nor tool calls."
        return Problem("server_error", message, retryable=True)
    return None
