"""The Azure OpenAI Assistants quickstart, as the page writes it, against the local server.

The code of https://learn.microsoft.com/azure/ai-services/openai/assistants-quickstart (the
copy in `shared/docs/azure-assistants/quickstart.en.txt`), in order, with the sync
`AzureOpenAI` client: a code interpreter assistant draws a sine wave (really, in the sandbox),
the PNG is downloaded, the follow-up asks for the code, then for a dark-mode version.

    runflow serve --port 8000 --scenario examples/azure_quickstart.yaml &
    AZURE_OPENAI_ENDPOINT=http://127.0.0.1:8000 AZURE_OPENAI_API_KEY=local \\
        python examples/azure_quickstart.py

The scenario plays the model (its code is the code the page shows the model writing); what the
code draws, the files and the run steps are real. Differences from the page: none in the calls;
the page's notebook cells are one script here, and it prints where the images went.
"""

# ruff: noqa: E402, E501, F541, I001, UP032
import os
import json
from openai import AzureOpenAI

client = AzureOpenAI(
    api_key=os.getenv("AZURE_OPENAI_API_KEY"),
    api_version="2024-05-01-preview",
    azure_endpoint=os.getenv("AZURE_OPENAI_ENDPOINT"),
)

# Create an assistant
assistant = client.beta.assistants.create(
    name="Data Visualization",
    instructions=f"You are a helpful AI assistant who makes interesting visualizations based on data."
    f"You have access to a sandboxed environment for writing and testing code."
    f"When you are asked to create a visualization you should follow these steps:"
    f"1. Write the code."
    f"2. Anytime you write new code display a preview of the code to show your work."
    f"3. Run the code to confirm that it runs."
    f"4. If the code is successful display the visualization."
    f"5. If the code is unsuccessful display the error message and try to revise the code and rerun going through the steps from above again.",
    tools=[{"type": "code_interpreter"}],
    model="gpt-4-1106-preview",  # You must replace this value with the deployment name for your model.
)
print(assistant.model_dump_json(indent=2))

# Create a thread
thread = client.beta.threads.create()
print(thread)

# Add a user question to the thread
message = client.beta.threads.messages.create(
    thread_id=thread.id, role="user", content="Create a visualization of a sinewave"
)
thread_messages = client.beta.threads.messages.list(thread.id)
print(thread_messages.model_dump_json(indent=2))

run = client.beta.threads.runs.create(
    thread_id=thread.id,
    assistant_id=assistant.id,
    # instructions="New instructions" #You can optionally provide new instructions but these will override the default instructions
)

# Retrieve the status of the run
run = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)
status = run.status
print(status)

import time
from IPython.display import clear_output

start_time = time.time()
status = run.status
while status not in ["completed", "cancelled", "expired", "failed"]:
    time.sleep(5)
    run = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)
    print(
        "Elapsed time: {} minutes {} seconds".format(
            int((time.time() - start_time) // 60), int((time.time() - start_time) % 60)
        )
    )
    status = run.status
    print(f"Status: {status}")
    clear_output(wait=True)

messages = client.beta.threads.messages.list(thread_id=thread.id)
print(f"Status: {status}")
print(
    "Elapsed time: {} minutes {} seconds".format(
        int((time.time() - start_time) // 60), int((time.time() - start_time) % 60)
    )
)
print(messages.model_dump_json(indent=2))

# Retrieve file ID
data = json.loads(messages.model_dump_json(indent=2))  # Load JSON data into a Python object
image_file_id = data["data"][0]["content"][0]["image_file"]["file_id"]
print(image_file_id)  # Outputs: assistant-1YGVTvNzc2JXajI5JU9F0HMD

# Download image
content = client.files.content(image_file_id)
image = content.write_to_file("sinewave.png")

from PIL import Image

# Display the image in the default image viewer
image = Image.open("sinewave.png")
image.show()
print("sinewave.png:", image.size)

# Add a new user question to the thread
message = client.beta.threads.messages.create(
    thread_id=thread.id, role="user", content="Show me the code you used to generate the sinewave"
)
run = client.beta.threads.runs.create(
    thread_id=thread.id,
    assistant_id=assistant.id,
    # instructions="New instructions" #You can optionally provide new instructions but these will override the default instructions
)
# Retrieve the status of the run
run = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)
status = run.status
print(status)
while status not in ["completed", "cancelled", "expired", "failed"]:  # as above
    time.sleep(5)
    status = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id).status

messages = client.beta.threads.messages.list(thread_id=thread.id)
print(messages.model_dump_json(indent=2))

data = json.loads(messages.model_dump_json(indent=2))
code = data["data"][0]["content"][0]["text"]["value"]
print(code)

# Add a user question to the thread
message = client.beta.threads.messages.create(
    thread_id=thread.id,
    role="user",
    content="I prefer visualizations in darkmode can you change the colors to make a darkmode version of this visualization.",
)

# Run the thread
run = client.beta.threads.runs.create(
    thread_id=thread.id,
    assistant_id=assistant.id,
)

# Retrieve the status of the run
run = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)
status = run.status
print(status)
while status not in ["completed", "cancelled", "expired", "failed"]:  # as above
    time.sleep(5)
    status = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id).status

messages = client.beta.threads.messages.list(thread_id=thread.id)
print(messages.model_dump_json(indent=2))

data = json.loads(messages.model_dump_json(indent=2))  # Load JSON data into a Python object
image_file_id = data["data"][0]["content"][0]["image_file"][
    "file_id"
]  # index numbers can vary if you have had a different conversation over the course of the thread.
print(image_file_id)
content = client.files.content(image_file_id)
image = content.write_to_file("dark_sine.png")
# Display the image in the default image viewer
image = Image.open("dark_sine.png")
image.show()
print("dark_sine.png:", image.size)
