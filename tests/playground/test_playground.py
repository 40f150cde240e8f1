"""The playground in a real headless Chromium, read as a user reads it: visible text and roles.

Run alone: `uv run pytest tests/playground -q -p no:cacheprovider` (about 25 s);
`RUNFLOW_SCREENSHOT=1` also refreshes the README's screenshot (plugins/server/docs).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from . import painter
from .code_interpreter import why_not
from .conftest import API_KEY, open_tab

SCREENSHOT = Path(__file__).parents[2] / "plugins" / "server" / "docs" / "playground.png"
REFRESH_SCREENSHOT = os.environ.get("RUNFLOW_SCREENSHOT", "") not in ("", "0")
"""The README's screenshot is rewritten when RUNFLOW_SCREENSHOT=1 (or when it is missing), so
that a plain test run leaves the work tree as it was (ids and times differ on every run)."""
GET_WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
ANSWER = "It is sunny and 21 °C in Paris today, and a fine day for a walk."


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def create_assistant(
    page: Any, name: str, *, code_interpreter: bool = True, file_search: bool = False
) -> None:
    """Through the Assistants tab: a function tool, and the code interpreter if asked."""
    page.get_by_role("button", name="+ New assistant").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Instructions").fill("Answer weather questions with the get_weather tool.")
    if code_interpreter:
        page.get_by_label("Code interpreter").check()
    if file_search:
        page.get_by_label("File search").check()
    page.get_by_label("Function tools").fill(json.dumps([GET_WEATHER], indent=2))
    page.get_by_role("button", name="Create assistant").click()
    expect(page.get_by_role("status").filter(has_text="Saved asst_")).to_be_visible()
    expect(
        page.get_by_role("list", name="Assistants").get_by_role("button", name=name)
    ).to_be_visible()


def ask(page: Any, assistant: str, text: str) -> None:
    page.get_by_role("tab", name="Chat").click()
    page.get_by_role("tabpanel", name="Chat").get_by_label("Assistant").select_option(
        label=assistant
    )
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("button", name="Send").click()


def record_conversation_texts(page: Any) -> None:
    """Keep every text the conversation shows, as it changes (read back by `shown_texts`)."""
    page.evaluate(
        """() => {
          const log = document.querySelector('[role="log"]');
          window.shownTexts = [];
          new MutationObserver(() => window.shownTexts.push(log.innerText))
            .observe(log, {subtree: true, childList: true, characterData: true});
        }"""
    )


def test_build_an_assistant_chat_submit_an_output_and_watch_the_answer_stream(page: Any) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/playground/$"))
    create_assistant(page, "Weather helper")
    tools = page.get_by_role("group", name="Built-in tools")
    expect(tools.get_by_label("Code interpreter")).to_be_checked()

    ask(page, "Weather helper", "What is the weather in Paris?")
    run_status = page.get_by_role("status", name="Run status")
    expect(run_status).to_contain_text("requires action")
    form = page.get_by_role("form", name="Tool outputs")
    timer = form.get_by_role("timer")
    expect(timer).to_have_text(re.compile(r"Expires in (10:00|9:[0-5]\d)"))
    first = timer.inner_text()
    expect(timer).not_to_have_text(first)  # it counts down, live

    record_conversation_texts(page)
    form.get_by_label('Output of get_weather({"city":"Paris"})').fill("sunny and 21 °C")
    form.get_by_role("button", name="Submit outputs").click()
    answer = page.get_by_role("article", name="assistant message")
    expect(answer).to_contain_text(ANSWER)
    expect(run_status).to_contain_text("completed")
    shown: list[str] = page.evaluate("window.shownTexts")
    growing = [text for text in shown if "It is" in text and ANSWER not in text]
    assert growing, f"the answer appeared all at once: {shown}"

    steps = page.get_by_label("Run steps")
    call = steps.locator("details", has_text="Tool calls: get_weather")
    expect(call).to_contain_text('"city": "Paris"')
    expect(call).to_contain_text("sunny and 21 °C")
    expect(steps.locator("details", has_text="Message")).to_contain_text("completed")


def test_cancel_a_waiting_run_then_inspect_the_runs(page: Any) -> None:
    page.goto("/playground/")
    create_assistant(page, "Cancel me", code_interpreter=False)
    ask(page, "Cancel me", "Weather in Paris, please")
    run_status = page.get_by_role("status", name="Run status")
    expect(run_status).to_contain_text("requires action")
    page.get_by_role("button", name="Cancel run").click()
    expect(run_status).to_contain_text("cancelled")
    expect(page.get_by_role("form", name="Tool outputs")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel run")).to_be_disabled()

    page.get_by_role("button", name="New thread").click()
    message = page.get_by_role("textbox", name="Message")
    expect(message).to_be_focused()
    message.fill("And now?")
    message.press("Control+Enter")  # sends, from the keyboard
    page.get_by_label("Output of get_weather").fill("rainy")
    page.get_by_role("button", name="Submit outputs").click()
    expect(run_status).to_contain_text("completed")

    page.get_by_role("tab", name="Inspector").click()
    inspector = page.get_by_role("tabpanel", name="Inspector")
    expect(inspector).to_contain_text(re.compile(r"\d+ threads on the server"))
    table = page.get_by_role("table", name="Runs")
    rows = table.locator("tbody tr")
    inspector.get_by_label("Assistant").select_option(label="Cancel me")
    expect(rows).to_have_count(2)
    expect(table).to_contain_text("cancelled")
    expect(table).to_contain_text("completed")
    inspector.get_by_label("Status").select_option("cancelled")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Cancel me")
    rows.get_by_role("button").click()
    timeline = page.get_by_role("region", name="Run timeline")
    expect(timeline).to_contain_text("Timeline of run_")
    expect(timeline.get_by_role("listitem").last).to_contain_text("cancelled")
    expect(timeline).to_contain_text("Tool calls: get_weather")
    inspector.get_by_label("Status").select_option("completed")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(re.compile(r"\d+ \+ \d+"))  # usage: prompt + completion tokens


def test_a_server_with_an_api_key_asks_for_it_and_keeps_it_in_the_tab(
    browser: Any, keyed_server_url: str
) -> None:
    context = browser.new_context(base_url=keyed_server_url)
    try:
        page = context.new_page()
        page.goto("/")
        dialog = page.get_by_role("dialog", name="API key")
        expect(dialog).to_contain_text("This server wants an API key.")
        dialog.get_by_label("API key").fill("wrong")
        dialog.get_by_role("button", name="Use key").click()
        expect(dialog).to_contain_text("That key was refused.")
        dialog.get_by_label("API key").fill(API_KEY)
        dialog.get_by_role("button", name="Use key").click()
        expect(dialog).to_be_hidden()
        expect(page.get_by_role("list", name="Assistants")).to_contain_text("No assistants yet.")
        assert page.evaluate("sessionStorage.getItem('runflow.playground.apiKey')") == API_KEY
        assert API_KEY not in page.evaluate("JSON.stringify(localStorage)")
        page.get_by_role("tab", name="Assistants").focus()
        page.keyboard.press("ArrowRight")
        expect(page.get_by_role("tab", name="Chat")).to_be_focused()
        expect(page.get_by_role("tab", name="Chat")).to_have_attribute("aria-selected", "true")
        expect(page.get_by_role("tabpanel", name="Chat")).to_be_visible()
        expect(page.get_by_role("tabpanel", name="Assistants")).to_be_hidden()
    finally:
        context.close()


def test_code_interpreter_steps_images_and_file_links_render(
    browser: Any, painter_url: str
) -> None:
    """The engine's built-in path with a stand-in interpreter (painter.py): input, logs and the
    image in the step, the image in the message, the `sandbox:` link as a download."""
    with open_tab(browser, painter_url) as page:
        page.goto("/")
        create_assistant(page, "Plotter", file_search=True)
        ask(page, "Plotter", "Plot the first five squares")
        expect(page.get_by_role("status", name="Run status")).to_contain_text("completed")
        step = page.get_by_label("Run steps").locator("details", has_text="code interpreter")
        expect(step).to_contain_text("squares = [n * n for n in range(1, 6)]")
        expect(step).to_contain_text(painter.LOGS)
        plot = step.get_by_role("img", name="code interpreter image")
        expect(plot).to_be_visible()
        assert plot.evaluate("img => img.naturalWidth") == 240
        answer = page.get_by_role("article", name="assistant message")
        expect(answer).to_contain_text("Here is the plot. The numbers are in ⬇ squares.csv. ")
        expect(answer.get_by_role("img", name="image from the assistant")).to_be_visible()
        search = page.get_by_label("Run steps").locator("details", has_text="file search")
        expect(search).to_contain_text(painter.NOTES)
        expect(search).to_contain_text(painter.QUOTE)
        expect(answer).to_contain_text("The largest is 25[1].")
        sources = answer.get_by_role("list", name="Sources")
        expect(sources).to_contain_text(painter.QUOTE)
        expect(sources.get_by_role("link", name=painter.NOTES)).to_be_visible()
        with page.expect_download() as download:
            answer.get_by_role("link", name="squares.csv").click()
        assert download.value.suggested_filename == "squares.csv"
        assert Path(download.value.path()).read_text().startswith("n,square\n1,1")
        page.get_by_role("textbox", name="Message").fill("Thanks! Which square is the largest?")
        page.set_viewport_size({"width": 1280, "height": 720})
        shot = page.screenshot()
        assert shot.startswith(b"\x89PNG")
        if REFRESH_SCREENSHOT or not SCREENSHOT.exists():
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            SCREENSHOT.write_bytes(shot)


def test_a_code_interpreter_image_shows_in_the_run_steps(page: Any) -> None:
    """The real code interpreter (the server's sandboxed kernel), when this server has one."""
    reason = why_not()
    if reason:
        pytest.skip(reason)
    page.goto("/playground/")
    page.get_by_role("button", name="+ New assistant").click()
    page.get_by_label("Name", exact=True).fill("Plotter")
    page.get_by_label("Code interpreter").check()
    page.get_by_label("Metadata").fill('{"scenario": "plot"}')
    page.get_by_role("button", name="Create assistant").click()
    expect(page.get_by_role("status").filter(has_text="Saved asst_")).to_be_visible()
    ask(page, "Plotter", "Plot the squares")
    run_status = page.get_by_role("status", name="Run status")
    expect(run_status).to_contain_text("completed", timeout=60_000)  # a kernel starts first
    step = page.get_by_label("Run steps").locator("details", has_text="Code interpreter")
    expect(step).to_contain_text("display(Image(")
    expect(step).to_contain_text("shown")
    image = step.get_by_role("img", name="code interpreter image")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") > 0


def test_edit_an_assistant_refuse_bad_json_and_delete_it(page: Any) -> None:
    page.goto("/playground/")
    create_assistant(page, "Draft", code_interpreter=False)
    assistants = page.get_by_role("list", name="Assistants")
    page.get_by_label("Name", exact=True).fill("Renamed")
    page.get_by_label("Function tools").fill("[{not json")
    page.get_by_role("button", name="Save assistant").click()
    expect(page.get_by_role("alert")).to_contain_text("Function tools: not valid JSON")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Renamed")  # nothing lost
    page.get_by_label("Function tools").fill(json.dumps([GET_WEATHER]))
    page.get_by_label("File search").check()
    page.get_by_role("button", name="Save assistant").click()
    expect(assistants.get_by_role("button", name="Renamed")).to_be_visible()
    expect(page.get_by_role("alert")).to_be_hidden()
    expect(page.get_by_label("File search")).to_be_checked()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete assistant").click()
    expect(assistants.get_by_role("button", name="Renamed")).to_have_count(0)
