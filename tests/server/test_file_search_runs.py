"""File search inside runs: the scripted `file_search` step, the default brain, attachments,
`tool_choice`, step details with and without `include[]`, streamed step events, citations."""

from __future__ import annotations

import openai
import pytest

from runflow.testing import FakeClock
from runflow_server import Scenario
from runflow_server.scenario import ScenarioError, load_scenario

from .conftest import Server
from .support import collapse
from .vector_support import Search, open_search

pytestmark = pytest.mark.anyio

INCLUDE = "step_details.tool_calls[*].file_search.results[*].content"
MANUAL = (
    "Descale the boiler every 200 shots with citric acid.\n\n"
    "The drip tray holds 1.2 litres; the red float rises when it is full."
)
SCRIPT = Scenario.model_validate(
    {
        "name": "cite",
        "steps": [
            {"file_search": {"query": "{last_user_message}"}},
            {"message": "Answer: {search.top}"},
        ],
    }
)


async def _assistant(search: Search, **options: object) -> str:
    file_id = await search.upload("manual.txt", MANUAL)
    assistant = await search.client.beta.assistants.create(
        model="m",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [file_id]}]}},
        **options,  # type: ignore[arg-type]
    )
    return assistant.id


async def test_scripted_search_cites_the_top_result(server: Server, clock: FakeClock) -> None:
    search = await open_search(server, clock, scenario=SCRIPT)
    client = search.client
    assistant_id = await _assistant(search)
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": "how often to descale?"}]
    )
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant_id, include=[INCLUDE]
    )
    assert run.status == "completed"
    (message, _) = (await client.beta.threads.messages.list(thread.id)).data
    text = message.content[0].text  # type: ignore[union-attr]
    assert text.value.startswith("Answer: Descale the boiler every 200 shots")
    (annotation,) = text.annotations
    assert annotation.type == "file_citation"
    assert text.value[annotation.start_index : annotation.end_index] == annotation.text
    assert annotation.text == "【0:0†manual.txt】"
    assert "200 shots" in annotation.file_citation.quote  # type: ignore[attr-defined]

    steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    call = steps.data[0].step_details.tool_calls[0]  # type: ignore[union-attr]
    assert call.type == "file_search"
    assert call.file_search.ranking_options.ranker == "default_2024_08_21"
    (result,) = call.file_search.results
    assert result.file_name == "manual.txt" and result.content is None  # not asked for
    with_content = await client.beta.threads.runs.steps.list(
        run.id, thread_id=thread.id, order="asc", include=[INCLUDE]
    )
    (shown,) = with_content.data[0].step_details.tool_calls[0].file_search.results  # type: ignore[union-attr]
    assert shown.content is not None and "200 shots" in (shown.content[0].text or "")


async def test_default_brain_streams_a_search_step(server: Server, clock: FakeClock) -> None:
    search = await open_search(server, clock)
    client = search.client
    assistant_id = await _assistant(search)
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": "what does the red float mean?"}]
    )
    names = []
    async with await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant_id, stream=True
    ) as stream:
        async for event in stream:
            if event.event.startswith("thread.run.step") or event.event == "thread.run.completed":
                names.append(event.event)
    assert collapse(names)[:5] == [
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.step.completed",
        "thread.run.step.created",
    ]
    (message, _) = (await client.beta.threads.messages.list(thread.id)).data
    text = message.content[0].text  # type: ignore[union-attr]
    assert "red float" in text.value and text.annotations[0].type == "file_citation"


async def test_forced_search_and_no_results(server: Server, clock: FakeClock) -> None:
    search = await open_search(server, clock)
    client = search.client
    assistant_id = await _assistant(search)
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "zeppelin"}])
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant_id, tool_choice={"type": "file_search"}
    )
    steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    assert [step.type for step in steps.data] == ["tool_calls", "message_creation"]
    assert steps.data[0].step_details.tool_calls[0].file_search.results == []  # type: ignore[union-attr]
    (message, _) = (await client.beta.threads.messages.list(thread.id)).data
    assert message.content[0].text.annotations == []  # type: ignore[union-attr]


async def test_attachment_creates_the_thread_store(server: Server, clock: FakeClock) -> None:
    search = await open_search(server, clock)
    client = search.client
    file_id = await search.upload("manual.txt", MANUAL)
    assistant = await client.beta.assistants.create(model="m", tools=[{"type": "file_search"}])
    thread = await client.beta.threads.create()
    await client.beta.threads.messages.create(
        thread.id,
        role="user",
        content="drip tray size?",
        attachments=[{"file_id": file_id, "tools": [{"type": "file_search"}]}],
    )
    resources = (await client.beta.threads.retrieve(thread.id)).tool_resources
    assert resources is not None and resources.file_search is not None
    (store_id,) = resources.file_search.vector_store_ids or []
    store = await client.vector_stores.retrieve(store_id)
    assert store.expires_after is not None and store.expires_after.days == 7
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id
    )
    assert run.status == "completed"
    (message, _) = (await client.beta.threads.messages.list(thread.id)).data
    assert "1.2 litres" in message.content[0].text.value  # type: ignore[union-attr]


async def test_two_stores_for_one_assistant_are_refused(server: Server, clock: FakeClock) -> None:
    search = await open_search(server, clock)
    client = search.client
    first = await client.vector_stores.create(name="a")
    with pytest.raises(openai.BadRequestError, match="maximum length 1"):
        await client.beta.assistants.create(
            model="m",
            tool_resources={"file_search": {"vector_store_ids": [first.id], "vector_stores": [{}]}},
        )
    assert len((await client.vector_stores.list()).data) == 1


def test_search_placeholders_need_a_search_step(tmp_path: object) -> None:
    path = f"{tmp_path}/s.yaml"
    with open(path, "w") as file:
        file.write("name: x\nsteps:\n  - message: 'see {search.top}'\n")
    with pytest.raises(ScenarioError, match="no earlier file_search step"):
        load_scenario(path)
