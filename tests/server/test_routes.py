"""The three route prefixes (OpenAI, Azure OpenAI, Foundry) and API-key auth."""

from __future__ import annotations

import httpx2
import openai
import pytest

from runflow.testing import FakeClock

from .conftest import Server

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        pytest.param("", 404, "404", id="missing"),
        pytest.param("?api-version=2024-02-01", 400, "BadRequest", id="before-assistants"),
        pytest.param("?api-version=someday", 400, "BadRequest", id="malformed"),
    ],
)
async def test_azure_refuses_missing_and_unknown_api_versions(
    http: httpx2.AsyncClient, query: str, status: int, code: str
) -> None:
    response = await http.get(f"/openai/assistants{query}")

    assert response.status_code == status and response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    "version", ["2024-02-15-preview", "2024-05-01-preview", "2025-04-01-preview"]
)
async def test_azure_accepts_the_assistants_versions(
    http: httpx2.AsyncClient, version: str
) -> None:
    assert (await http.get(f"/openai/assistants?api-version={version}")).status_code == 200


async def test_foundry_project_routes_share_the_state(server: Server, clock: FakeClock) -> None:
    _, client, http = await server.open(clock=clock)
    foundry = openai.AsyncOpenAI(
        base_url="http://testserver/api/projects/my-project", api_key="k", http_client=http
    )

    assistant = await foundry.beta.assistants.create(model="gpt-4o")

    assert (await client.beta.assistants.retrieve(assistant.id)).id == assistant.id


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Authorization": "Bearer s3cret"}, id="bearer"),
        pytest.param({"api-key": "s3cret"}, id="api-key"),
    ],
)
async def test_the_api_key_is_accepted_in_either_header(
    server: Server, clock: FakeClock, headers: dict[str, str]
) -> None:
    _, _, http = await server.open(clock=clock, api_key="s3cret")

    assert (await http.get("/v1/assistants", headers=headers)).status_code == 200


async def test_a_wrong_or_missing_key_is_401(server: Server, clock: FakeClock) -> None:
    _, client, http = await server.open(clock=clock, api_key="s3cret")

    with pytest.raises(openai.AuthenticationError) as raised:
        await client.beta.assistants.list()  # the fixture's client sends "test"
    missing = await http.get("/v1/assistants")

    assert raised.value.code == "invalid_api_key"
    assert missing.status_code == 401 and "s3cret" not in missing.text
