"""Model configuration: flags, files with several providers, routing, and keys kept secret."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from runflow.testing import FakeClock
from runflow_server.model import (
    API_KEY_ENV,
    ModelBrain,
    ModelConfigError,
    load_model_config,
    model_config_from_flags,
)
from runflow_server.model.options import add_model_arguments, model_brain_from_args

KEY = "sk-config-secret-0123456789"

CONFIG = f"""
default: local
providers:
  - name: azure
    type: azure
    endpoint: https://my-resource.openai.azure.com
    api_version: "2024-10-21"
    api_key_env: AZ_KEY_FOR_TEST
    deployments: {{gpt-4o: prod-gpt-4o}}
  - name: local
    base_url: http://127.0.0.1:11434/v1
    api_key: {KEY}
    models: {{gpt-4o-mini: "qwen2.5:7b"}}
    vision: false
    max_tokens_param: max_tokens
"""


def test_a_file_routes_each_assistant_model_to_its_provider(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(CONFIG)
    config = load_model_config(path)
    azure, local = config.providers
    assert (config.route("gpt-4o").provider, config.route("gpt-4o").model) == (azure, "prod-gpt-4o")
    assert (config.route("gpt-4o-mini").provider.name, config.route("gpt-4o-mini").model) == (
        "local",
        "qwen2.5:7b",
    )
    other = config.route("llama3.2")  # listed nowhere: the default provider, under its name
    assert (other.provider.name, other.model) == ("local", "llama3.2")
    assert local.options.vision is False and local.options.max_tokens_param == "max_tokens"
    assert KEY not in repr(config) and KEY not in config.model_dump_json()
    assert local.secret() == KEY


def test_json_works_too_and_the_first_provider_is_the_default(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"providers": [{"name": "a", "base_url": "http://a/v1"}]}))
    assert load_model_config(path).route("anything").provider.name == "a"


def test_an_azure_key_comes_from_its_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(CONFIG)
    monkeypatch.setenv("AZ_KEY_FOR_TEST", "az-secret")
    azure = load_model_config(path).providers[0]
    assert azure.secret() == "az-secret"
    client = azure.client()
    assert str(client.base_url).startswith("https://my-resource.openai.azure.com/openai")


def test_without_a_key_a_placeholder_is_sent_never_openai_api_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-local-servers")
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    provider = model_config_from_flags("http://127.0.0.1:8080/v1").providers[0]
    assert provider.client().api_key == "no-key"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("providers: []", "providers", id="no providers"),
        pytest.param("providers: [{name: a}]", "needs base_url", id="no base_url"),
        pytest.param(
            "providers: [{name: a, type: azure, endpoint: 'https://x'}]",
            "needs endpoint and api_version",
            id="azure without api_version",
        ),
        pytest.param(
            "providers: [{name: a, base_url: 'http://a'}, {name: a, base_url: 'http://b'}]",
            "unique",
            id="two of one name",
        ),
        pytest.param(
            "default: z\nproviders: [{name: a, base_url: 'http://a'}]",
            "names no provider",
            id="default",
        ),
        pytest.param(
            f"providers: [{{name: a, base_url: 'http://a', api_key: {KEY}, api_key_env: X}}]",
            "not both",
            id="two keys",
        ),
        pytest.param(
            f"providers: [{{name: a, base_url: 'http://a', api_key: {KEY}, colour: red}}]",
            "colour",
            id="an unknown field",
        ),
        pytest.param("- just a list", "expected a mapping", id="not a mapping"),
        pytest.param("providers: [unclosed", "cannot read", id="broken yaml"),
    ],
)
def test_a_bad_file_says_what_to_fix_and_never_shows_the_key(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(text)
    with pytest.raises(ModelConfigError) as caught:
        load_model_config(path)
    assert problem in str(caught.value)
    assert str(path) in str(caught.value)
    assert KEY not in str(caught.value)


def test_flags_make_one_provider_with_a_model_map(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "env-key")
    config = model_config_from_flags("http://h/v1", None, ["gpt-4o=llama3.2", "o1=qwen"])
    [provider] = config.providers
    assert provider.models == {"gpt-4o": "llama3.2", "o1": "qwen"}
    assert provider.secret() == "env-key"
    assert model_config_from_flags("http://h/v1", "flag-key").providers[0].secret() == "flag-key"
    with pytest.raises(ModelConfigError, match="ASSISTANT_MODEL=UPSTREAM_MODEL"):
        model_config_from_flags("http://h/v1", None, ["gpt-4o"])


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    return parser.parse_args(argv)


def test_serve_flags_make_a_brain_or_none(tmp_path: Path) -> None:
    clock = FakeClock()
    assert model_brain_from_args(parse(), clock) is None
    brain = model_brain_from_args(
        parse("--model-base-url", "http://h/v1", "--model-map", "a=b"), clock
    )
    assert isinstance(brain, ModelBrain) and brain.route("a").model == "b"
    path = tmp_path / "m.yaml"
    path.write_text(CONFIG)
    assert model_brain_from_args(parse("--model-config", str(path)), clock) is not None


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        pytest.param(["--model-config", "x", "--model-base-url", "y"], "not both", id="both"),
        pytest.param(["--model-map", "a=b"], "need --model-base-url", id="a map alone"),
        pytest.param(["--model-base-url", "y", "--model-max-turns", "0"], "at least 1", id="turns"),
    ],
)
def test_serve_flags_that_cannot_work(argv: list[str], problem: str) -> None:
    with pytest.raises(ModelConfigError, match=problem):
        model_brain_from_args(parse(*argv), FakeClock())
