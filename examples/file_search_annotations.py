"""The Azure quickstart's file search flow and its annotations snippet, on a real cited answer.

    uv run python examples/file_search_annotations.py

Files are uploaded into a vector store (`file_batches.upload_and_poll`), an assistant with the
`file_search` tool searches it, and the answer's `file_citation` annotations become footnotes
exactly as the quickstart's snippet does it. Offline: the local run server runs in-process and
its default brain answers with the passages it found, cited; against a real service, build the
client with its base_url and key instead.
"""

from __future__ import annotations

import warnings

import anyio

from runflow.testing import inprocess_client
from runflow_server import create_app

warnings.filterwarnings(
    "ignore", "The Assistants API is deprecated|deprecated$", DeprecationWarning
)

DOCUMENTS = {
    "warranty.md": (
        "# Warranty\n\nThe Harbor 3 espresso machine carries a two-year warranty covering the"
        " pump, the boiler and the electronics. Wear parts such as gaskets are not covered."
    ),
    "care.txt": (
        "Descale the boiler every 200 shots with a citric acid solution. Purge the steam wand"
        " before and after every milk drink."
    ),
}


async def main() -> None:
    app = create_app()
    client = inprocess_client(app)
    try:
        store = await client.vector_stores.create(name="Harbor 3 manuals")
        batch = await client.vector_stores.file_batches.upload_and_poll(
            vector_store_id=store.id,
            files=[(name, text.encode()) for name, text in DOCUMENTS.items()],
        )
        print(f"Indexed {batch.file_counts.completed} files into {store.id}")

        assistant = await client.beta.assistants.create(
            name="Coffee machine support",
            instructions="Answer from the manuals and cite them.",
            model="gpt-4o",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        thread = await client.beta.threads.create(
            messages=[{"role": "user", "content": "How often should I descale the boiler?"}]
        )
        run = await client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id
        )
        messages = await client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id)
        message = messages.data[0]

        # The quickstart's snippet, as published (with `await` for the async client).
        message_content = message.content[0].text  # type: ignore[union-attr]
        annotations = message_content.annotations
        citations = []
        for index, annotation in enumerate(annotations):
            message_content.value = message_content.value.replace(annotation.text, f" [{index}]")
            if file_citation := getattr(annotation, "file_citation", None):
                cited_file = await client.files.retrieve(file_citation.file_id)
                citations.append(f"[{index}] {file_citation.quote} from {cited_file.filename}")
            elif file_path := getattr(annotation, "file_path", None):
                cited_file = await client.files.retrieve(file_path.file_id)
                citations.append(f"[{index}] Click <here> to download {cited_file.filename}")
        message_content.value += "\n" + "\n".join(citations)
        print(message_content.value)
    finally:
        await client.close()
        await app.state.engine.aclose()
        await app.state.file_search.aclose()


if __name__ == "__main__":
    anyio.run(main)
