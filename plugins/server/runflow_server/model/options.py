"""The model brain's command-line flags, for `runflow serve` (`cli.py` adds and reads them).

```
--model-base-url URL          an OpenAI-compatible endpoint (..../v1) serves every assistant model
--model-api-key KEY           its key (else RUNFLOW_MODEL_API_KEY; none for local servers)
--model-map A=B               assistant model A is the endpoint's model B (repeatable)
--model-config FILE           several providers (YAML / JSON; see providers.py), instead
--model-max-turns N           model turns a run may take (24)
```
Without `--model-base-url` or `--model-config` the server keeps its scripted / default brains.
"""

from __future__ import annotations

import argparse

from ..clock import Clock
from .brain import ModelBrain
from .providers import ModelConfig, ModelConfigError, load_model_config, model_config_from_flags

__all__ = ["add_model_arguments", "model_brain_from_args"]


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `--model-*` flags to `runflow serve`'s parser."""
    group = parser.add_argument_group("model brain (any Chat Completions endpoint)")
    group.add_argument("--model-base-url", help="OpenAI-compatible endpoint, e.g. .../v1")
    group.add_argument(
        "--model-api-key", help="the endpoint's key (default: env RUNFLOW_MODEL_API_KEY)"
    )
    group.add_argument(
        "--model-map",
        action="append",
        default=[],
        metavar="ASSISTANT_MODEL=UPSTREAM_MODEL",
        help="serve an assistant model with another model of the endpoint (repeatable)",
    )
    group.add_argument("--model-config", help="providers file (YAML or JSON), several endpoints")
    group.add_argument("--model-max-turns", type=int, default=24, help="model turns per run (24)")


def model_brain_from_args(args: argparse.Namespace, clock: Clock) -> ModelBrain | None:
    """The model brain the flags ask for, or None when they ask for none.

    Raises:
        ModelConfigError: the flags or the file cannot be used (the message says why).
    """
    config: ModelConfig | None = None
    if args.model_config and args.model_base_url:
        raise ModelConfigError("give --model-config or --model-base-url, not both")
    if args.model_config:
        config = load_model_config(args.model_config)
    elif args.model_base_url:
        config = model_config_from_flags(args.model_base_url, args.model_api_key, args.model_map)
    elif args.model_map or args.model_api_key:
        raise ModelConfigError("--model-map and --model-api-key need --model-base-url")
    if config is None:
        return None
    if args.model_max_turns < 1:
        raise ModelConfigError("--model-max-turns must be at least 1")
    return ModelBrain(config, clock=clock, max_turns=args.model_max_turns)
