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
publishes again what the interrupted attempt published (`_Published`). Cancelling the
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

from ..clock import Clock
from ._protocol import (
    BrainEvent,
    Fail,
    FunctionCallDelta,
    Incomplete,
    TextDelta,
    Turn,
)
from .failures import Problem, classify
from .mapping import ImageSource, chat_request
from .providers import ModelConfig, Provider, Route
from .stream import Answer, Assembler, ending

__all__ = ["ModelBrain", "RetryPolicy"]

log = logging.getLogger("runflow_server.model")


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff between attempts: `first`, doubled each time up to `longest`, at most `attempts`
    tries in all; a `Retry-After` longer than `longest` is still honoured if time allows."""

    attempts: int = 6
    first: float = 0.5
    longest: float = 8.0

    def delay(self, attempt: int, problem: Problem) -> float:
        backoff = min(self.longest, self.first * float(2**attempt))
        return max(backoff, problem.retry_after or 0.0)


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

    def __init__(
        self,
        config: ModelConfig,
        *,
        clock: Clock,
        http_client: httpx2.AsyncClient | None = None,
        images: ImageSource | None = None,
        max_turns: int = 24,
        retry: RetryPolicy = RetryPolicy(),
        margin: float = 5.0,
    ) -> None:
        self.config = config
        self.images = images
        self._clock = clock
        self._http = http_client
        self._clients: dict[str, openai.AsyncOpenAI] = {}
        self._max_turns = max_turns
        self._retry = retry
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
        published = _Published()
        drop, attempt, sent, shrunk = 0, 0, -1, ""
        while True:
            request = chat_request(
                turn, route.model, route.provider.options, images=self.images, drop_oldest=drop
            )
            if isinstance(request, Fail | Incomplete):
                yield request
                return
            if shrunk and len(request["messages"]) == sent:  # as short as it gets: too long
                yield Fail("invalid_prompt", f"{shrunk} (even with the oldest messages dropped)")
                return
            sent, shrunk = len(request["messages"]), ""
            assembler = Assembler()
            problem: Problem | None = None
            try:
                async with aclosing(self._attempt(route, request, deadline, assembler)) as events:
                    async for event in events:
                        kept = published.keep(event)
                        if isinstance(kept, Fail):
                            yield kept
                            return
                        if kept is not None:
                            yield kept
            except Exception as exc:
                problem = classify(exc, provider=route.provider.name, secret=_key(route))
                if problem is None:
                    raise
            answer = assembler.answer()
            if answer.usage is not None:
                yield answer.usage
            problem = problem or _incomplete_answer(answer, route.provider.name)
            if problem is None:
                for event in ending(answer, fallback_query=_last_user_text(turn)):
                    yield event
                return
            if problem.context_length and _truncates(turn.run):
                drop, shrunk = max(1, drop * 2), problem.message
                continue
            attempt += 1
            wait = self._retry.delay(attempt - 1, problem)
            if not problem.retryable or attempt >= self._retry.attempts:
                yield Fail(problem.code, problem.message)
                return
            if self._clock.now() + wait >= deadline:
                yield Fail(problem.code, f"{problem.message} (no time left to retry)")
                return
            log.info("model call retried", extra={"provider": route.provider.name, "wait": wait})
            await self._clock.sleep_until(self._clock.now() + wait)
            published.next_attempt()

    async def _attempt(
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


def _deadline(run: Mapping[str, Any], now: float) -> float:
    expires_at = run.get("expires_at")
    return float(expires_at) if isinstance(expires_at, int | float) else now + 600.0


def _key(route: Route) -> str:
    return route.provider.secret()


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
    """A stream that said nothing usable: cut before its calls were whole, or empty."""
    calls = answer.named_calls()
    if answer.cut and not (calls and all(call.complete() for call in calls)):
        message = f"The model at {provider!r} stopped streaming before its answer was complete."
        return Problem("server_error", message, retryable=True)
    if not answer.cut and not answer.text and not calls and answer.finish_reason != "length":
        message = f"The model at {provider!r} answered with neither text nor tool calls."
        return Problem("server_error", message, retryable=True)
    return None


class _Published:
    """What the run has already published of this turn, so that a retried attempt, which
    streams the answer again from its start, publishes only what goes beyond it."""

    def __init__(self) -> None:
        self._sent: dict[Any, str] = {}
        self._seen: dict[Any, str] = {}
        self._started: set[int] = set()
        self._stale: set[int] = set()

    def next_attempt(self) -> None:
        self._seen = {}
        self._stale = set()

    def keep(self, event: BrainEvent) -> BrainEvent | Fail | None:
        """The part of `event` not yet published; a `Fail` when the text no longer matches."""
        if isinstance(event, TextDelta):
            piece = self._beyond("text", event.text)
            if piece is None:
                message = "The model's answer changed when its interrupted stream was retried."
                return Fail("server_error", message)
            return TextDelta(piece) if piece else None
        if isinstance(event, FunctionCallDelta):
            return self._call(event)
        return event

    def _call(self, event: FunctionCallDelta) -> FunctionCallDelta | None:
        index = event.index
        if index in self._stale:
            return None
        piece = self._beyond(("call", index), event.arguments)
        if piece is None:  # a preview only: the final calls carry the whole arguments
            self._stale.add(index)
            return None
        first = index not in self._started
        self._started.add(index)
        if not (first or piece):
            return None
        call_id = event.call_id if first else None
        name = event.name if first else None
        return FunctionCallDelta(index, call_id, name, piece)

    def _beyond(self, key: Any, piece: str) -> str | None:
        seen = self._seen.get(key, "") + piece
        self._seen[key] = seen
        sent = self._sent.get(key, "")
        if len(seen) <= len(sent):
            return "" if sent.startswith(seen) else None
        if not seen.startswith(sent):
            return None
        self._sent[key] = seen
        return seen[max(len(sent), len(seen) - len(piece)) :]
