"""The model brain: the assistant on any OpenAI-compatible Chat Completions endpoint.

- `mapping`: run + thread -> chat request (pure);
- `stream`: chat stream -> brain events, with the quirks of real servers (pure);
- `failures`: a failed model call -> retry, shrink or `last_error`;
- `attempts`: the attempts of a turn: backoff, shrinking, nothing published twice (pure);
- `providers`: which provider serves which assistant model, and its client;
- `brain`: `ModelBrain`, one streamed call per model turn;
- `fake`: a fake Chat Completions endpoint (tests, benchmarks, offline demos).
"""

from __future__ import annotations

from .attempts import RetryPolicy
from .brain import ModelBrain
from .mapping import ChatOptions, chat_request, tool_name_clash
from .providers import (
    API_KEY_ENV,
    ModelConfig,
    ModelConfigError,
    Provider,
    Route,
    load_model_config,
    model_config_from_flags,
)

__all__ = [
    "API_KEY_ENV",
    "ChatOptions",
    "ModelBrain",
    "ModelConfig",
    "ModelConfigError",
    "Provider",
    "RetryPolicy",
    "Route",
    "chat_request",
    "load_model_config",
    "model_config_from_flags",
    "tool_name_clash",
]
