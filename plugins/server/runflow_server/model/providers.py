"""Where the model brain sends each assistant `model`: providers, their keys, their clients.

From the command line (`runflow serve --model-base-url URL [--model-api-key KEY]
[--model-map ASSISTANT_MODEL=UPSTREAM_MODEL ...]`, the key also from `RUNFLOW_MODEL_API_KEY`)
or from a file (`--model-config models.yaml`, YAML or JSON) with several providers:

```yaml
default: local               # serves the models no provider lists, under their own name
providers:                   # (the first provider when `default` is not given)
  - name: local
    base_url: http://127.0.0.1:11434/v1
    models: {gpt-4o-mini: "qwen2.5:7b"}        # assistant model -> the provider's model
    vision: false                              # send images as a text note instead
    max_tokens_param: max_tokens               # older servers' name for the completion budget
  - name: azure
    type: azure
    endpoint: https://my-resource.openai.azure.com
    api_version: "2024-10-21"
    api_key_env: AZURE_OPENAI_API_KEY          # or api_key: ... (in the file itself)
    deployments: {gpt-4o: prod-gpt-4o}         # assistant model -> deployment name
```

Keys are `SecretStr`s: they print as `**********` and only `client()` reads them. A
provider without a key sends a placeholder (local servers ignore it), never `OPENAI_API_KEY`
from the environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx2
import openai
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from .mapping import ChatOptions

__all__ = [
    "API_KEY_ENV",
    "ModelConfig",
    "ModelConfigError",
    "Provider",
    "Route",
    "load_model_config",
    "model_config_from_flags",
]

API_KEY_ENV = "RUNFLOW_MODEL_API_KEY"
_NO_KEY = "no-key"


class ModelConfigError(ValueError):
    """A model configuration that cannot be used; the message says what to fix (never a key)."""


class Provider(BaseModel):
    """One Chat Completions endpoint: OpenAI-compatible (`base_url`) or Azure OpenAI."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: Literal["openai", "azure"] = "openai"
    base_url: str | None = None
    endpoint: str | None = None
    api_version: str | None = None
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    models: dict[str, str] = Field(default_factory=dict)
    deployments: dict[str, str] = Field(default_factory=dict)
    vision: bool = True
    max_tokens_param: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens"
    stream_usage: bool = True
    timeout: float = Field(default=120.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Provider:
        if self.type == "azure":
            if not self.endpoint or not self.api_version:
                raise ValueError(f"azure provider {self.name!r} needs endpoint and api_version")
        elif not self.base_url:
            raise ValueError(f"provider {self.name!r} needs base_url")
        if self.api_key is not None and self.api_key_env is not None:
            raise ValueError(f"provider {self.name!r}: give api_key or api_key_env, not both")
        return self

    @property
    def options(self) -> ChatOptions:
        return ChatOptions(self.vision, self.max_tokens_param, self.stream_usage)

    def upstream(self, model: str) -> str | None:
        """The provider's name for an assistant model it lists (None when it lists none)."""
        return self.deployments.get(model) or self.models.get(model)

    def secret(self) -> str:
        """The key to send: from the file, the named environment variable, or a placeholder."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env is not None:
            return os.environ.get(self.api_key_env) or _NO_KEY
        return _NO_KEY

    def client(self, http_client: httpx2.AsyncClient | None = None) -> openai.AsyncOpenAI:
        """An async client for this provider; the brain does its own retries (`max_retries=0`)."""
        if self.type == "azure":
            return openai.AsyncAzureOpenAI(
                azure_endpoint=self.endpoint or "",
                api_version=self.api_version,
                api_key=self.secret(),
                max_retries=0,
                timeout=self.timeout,
                http_client=http_client,
            )
        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.secret(),
            max_retries=0,
            timeout=self.timeout,
            http_client=http_client,
        )


@dataclass(frozen=True)
class Route:
    """An assistant model's way out: the provider and the model name it knows."""

    provider: Provider
    model: str


class ModelConfig(BaseModel):
    """Providers, and which one serves a model no provider lists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    providers: list[Provider] = Field(min_length=1)
    default: str | None = None

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        names = [provider.name for provider in self.providers]
        if len(set(names)) != len(names):
            raise ValueError(f"provider names must be unique, got {names}")
        if self.default is not None and self.default not in names:
            raise ValueError(f"default {self.default!r} names no provider (have {names})")
        return self

    def route(self, model: str) -> Route:
        """The provider listing `model`, else the default one, under the model's own name."""
        for provider in self.providers:
            upstream = provider.upstream(model)
            if upstream is not None:
                return Route(provider, upstream)
        fallback = self.default or self.providers[0].name
        provider = next(p for p in self.providers if p.name == fallback)
        return Route(provider, model)


def load_model_config(path: str | os.PathLike[str]) -> ModelConfig:
    """A model configuration file (YAML or JSON; see the module docstring)."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text()) if file.suffix != ".json" else None
        if file.suffix == ".json":
            data = json.loads(file.read_text())
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ModelConfigError(f"{file}: cannot read the model configuration: {exc}") from exc
    return _validated(data, str(file))


def model_config_from_flags(
    base_url: str, api_key: str | None = None, model_map: Sequence[str] = ()
) -> ModelConfig:
    """The one provider of `--model-base-url`, `--model-api-key` (else `RUNFLOW_MODEL_API_KEY`)
    and `--model-map A=B` flags."""
    models: dict[str, str] = {}
    for item in model_map:
        assistant_model, sep, upstream = item.partition("=")
        if not sep or not assistant_model or not upstream:
            wanted = "ASSISTANT_MODEL=UPSTREAM_MODEL"
            raise ModelConfigError(f"--model-map wants {wanted}, got {item!r}")
        models[assistant_model] = upstream
    provider: dict[str, Any] = {"name": "default", "base_url": base_url, "models": models}
    if api_key:
        provider["api_key"] = api_key
    elif os.environ.get(API_KEY_ENV):
        provider["api_key_env"] = API_KEY_ENV
    return _validated({"providers": [provider]}, "--model-* flags")


def _validated(data: Any, where: str) -> ModelConfig:
    if not isinstance(data, Mapping):
        raise ModelConfigError(f"{where}: expected a mapping with 'providers'")
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'config'}: {error['msg']}"
            for error in exc.errors(include_input=False)
        )
        raise ModelConfigError(f"{where}: {problems}") from None
