"""Replay recorded OpenAI traffic (`/work/shared/fixtures/openai-recordings`) against the app.

Each recorded request is sent, in order, to a fresh in-process app; recorded ids are mapped to
the ids this server hands out as they appear (walking the recorded and the actual responses side
by side), and the answers are compared: the status code, the key sets and value types of every
body (every SSE event's data too), and the order of SSE events (runs of deltas collapsed).

What cannot be the same is listed, with its reason: `KNOWN` everywhere, `DELIBERATE[file]` in one
file. A difference is a label `object:path (problem)`, e.g. `thread.message:status (extra)`,
where `object` is the `object` field of the nearest enclosing object; an entry whitelists every
label it is a prefix of. Value types: numbers are one type; where the recorded object and ours
are in different statuses (a polled run the hosted model was still working on), null matches
anything.

`python -m tests.server.replay` prints the per-file table.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from runflow.testing import FakeClock
from runflow_server import Scenario, create_app

from .support import collapse

ROOT = Path("/work/shared/fixtures/openai-recordings")
_ID = re.compile(r"^(asst|thread|run|msg|step|call|file|vs)[_-][A-Za-z0-9]+$")
_FILE_ID = re.compile(r"file-[A-Za-z0-9]{22}(?![A-Za-z0-9])")  # the hosted ids, not ours

# Differences in every file, from plugins/server/README.md "Known differences".
KNOWN = {
    "thread.message:status": "messages always carry status and the *_at fields (spec, SDK)",
    "thread.message:completed_at": "see thread.message:status",
    "thread.message:incomplete_at": "see thread.message:status",
    "thread.message:incomplete_details": "see thread.message:status",
    "thread.run.step:expired_at": "steps carry expired_at as the spec says, besides expires_at",
    "thread.run.step:metadata": "the spec requires metadata on steps; the recordings omit it",
    "thread.run:instructions (null": "instructions are '' without any (the SDK wants a string)",
    "thread.run:tool_resources.code_interpreter (missing)": "the hosted API showed empty"
    " code_interpreter resources on some runs and threads, {} on others: here always {}",
    "thread:tool_resources.code_interpreter (missing)": "see thread.run:tool_resources",
    "-:detail (missing)": "the hosted files API repeated its errors under 'detail'",
}
_TOOLS = "the brains never call code_interpreter / file_search: a message step instead"
DELIBERATE: dict[str, dict[str, str]] = {
    "BasicMessageOperationsWork.json": {
        "thread.message:file_ids (missing)": "the hosted API's modify answer had file_ids",
        "thread.message:attachments (extra)": "... instead of attachments (as everywhere else)",
    },
    "Pagination_CanRehydrateRunStepPageCollectionFromBytes.json": {
        "list:first_id (string != null)": "one message step here: the later pages are empty",
        "list:last_id (string != null)": "one message step here: the later pages are empty",
    },
}
SCENARIOS: dict[str, dict[str, Any]] = {
    "FunctionToolsWork.json": {
        "name": "food",
        "steps": [
            {
                "tool_calls": [
                    {
                        "name": "get_favorite_food_for_day_of_week",
                        "arguments": {"day_of_week": "Thursday"},
                    }
                ]
            },
            {"message": "You like {outputs} on Thursdays."},
        ],
    },
    "StreamingToolCall().json": {
        "name": "weather",
        "steps": [
            {"tool_calls": [{"name": "get_current_weather"}]},
            {"message": "It is {outputs}: a t-shirt will do."},
        ],
    },
}


@dataclass
class Report:
    """What one recording's replay found."""

    name: str
    twin: str  # the sync twin's name (see `sync_twin`)
    requests: int = 0
    status_matches: int = 0
    shape_matches: int = 0
    problems: list[str] = field(default_factory=list)  # differences nobody whitelisted
    deliberate: set[str] = field(default_factory=set)  # whitelist entries that were used

    @property
    def whitelist(self) -> dict[str, str]:
        return {**KNOWN, **DELIBERATE.get(self.twin, {})}


def replayed_files() -> list[Path]:
    """Every recording of assistants and files, sync and async variants alike."""
    return sorted((ROOT / "assistants").glob("*.json")) + sorted((ROOT / "files").glob("*.json"))


def sync_twin(path: Path) -> str:
    """The name a file's whitelist and scenario go by: its sync twin's (`XAsync.json` ->
    `X.json`), when there is one."""
    twin = path.with_name(path.name.removesuffix("Async.json") + ".json")
    return twin.name if path.name.endswith("Async.json") and twin.exists() else path.name


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def _join(where: str, key: str) -> str:
    return f"{where}{key}" if where.endswith(":") else f"{where}.{key}"


def shape_diffs(recorded: Any, ours: Any, where: str = "-:", lenient: bool = False) -> list[str]:
    """The labels of the ways `ours` has not the shape of `recorded`."""
    if isinstance(recorded, dict) and isinstance(ours, dict):
        if isinstance(recorded.get("object"), str):
            where = f"{recorded['object']}:"
        if recorded.get("status") != ours.get("status"):
            lenient = True
        diffs = [f"{_join(where, key)} (missing)" for key in recorded.keys() - ours.keys()]
        diffs += [f"{_join(where, key)} (extra)" for key in ours.keys() - recorded.keys()]
        for key in recorded.keys() & ours.keys():
            diffs += shape_diffs(recorded[key], ours[key], _join(where, key), lenient)
        return diffs
    if isinstance(recorded, list) and isinstance(ours, list):
        return [
            d
            for r, o in zip(recorded, ours, strict=False)
            for d in shape_diffs(r, o, f"{where}[]", lenient)
        ]
    if _kind(recorded) == _kind(ours) or (lenient and None in (recorded, ours)):
        return []
    return [f"{where} ({_kind(recorded)} != {_kind(ours)})"]


def sse_events(text: str) -> list[tuple[str, Any]]:
    """(name, data) of each event of an SSE body; data parsed when it is JSON."""
    events = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            data = lines.get("data", "")
            events.append((lines["event"], json.loads(data) if data.startswith("{") else data))
    return events


def _pair_events(
    recorded: list[tuple[str, Any]], ours: list[tuple[str, Any]]
) -> list[tuple[Any, Any]]:
    """The i-th recorded event named X with our i-th event named X."""
    pairs, seen = [], {}
    for name, data in recorded:
        index = seen[name] = seen.get(name, -1) + 1
        mine = [d for n, d in ours if n == name]
        if index < len(mine):
            pairs.append((data, mine[index]))
    return pairs


class Replayer:
    """One recording sent to one fresh app."""

    def __init__(self, path: Path, http: httpx2.AsyncClient, settle: Any) -> None:
        self.path = path
        self.http = http
        self.settle = settle
        self.ids: dict[str, str] = {}  # recorded id -> ours

    def learn(self, recorded: Any, ours: Any) -> None:
        """Map the ids of a recorded body to the ids at the same places in ours."""
        if isinstance(recorded, dict) and isinstance(ours, dict):
            for key in recorded.keys() & ours.keys():
                self.learn(recorded[key], ours[key])
        elif isinstance(recorded, list) and isinstance(ours, list):
            for pair in zip(recorded, ours, strict=False):
                self.learn(*pair)
        elif isinstance(recorded, str) and isinstance(ours, str) and _ID.match(recorded):
            self.ids.setdefault(recorded, ours)

    def substitute(self, text: str) -> str:
        for recorded, ours in sorted(self.ids.items(), key=lambda item: -len(item[0])):
            text = text.replace(recorded, ours)
        return text

    async def send(self, entry: dict[str, Any]) -> httpx2.Response:
        method, url = entry["RequestMethod"], entry["RequestUri"]
        path = self.substitute(url.split("://", 1)[1].split("/", 1)[1])
        if url.endswith("/files") and method == "POST":
            return await self.http.post(f"/{path}", **_upload(entry))
        body = entry["RequestBody"]
        raw = b"" if body is None else self.substitute(json.dumps(body)).encode()
        for file_id in set(_FILE_ID.findall(raw.decode())):  # uploaded outside the recording
            self.ids[file_id] = await self._stand_in_file()
            raw = raw.replace(file_id.encode(), self.ids[file_id].encode())
        headers = {"content-type": "application/json"} if raw else {}
        return await self.http.request(method, f"/{path}", content=raw, headers=headers)

    async def _stand_in_file(self) -> str:
        files = {"file": ("stand-in.txt", b"made before the recording")}
        response = await self.http.post("/v1/files", files=files, data={"purpose": "assistants"})
        return str(response.json()["id"])

    async def replay(self, entries: list[dict[str, Any]]) -> Report:
        report = Report(self.path.name, sync_twin(self.path))
        for entry in entries:
            response = await self.send(entry)
            await self.settle()
            report.requests += 1
            report.status_matches += response.status_code == entry["StatusCode"]
            diffs = self.compare(entry["ResponseBody"], response)
            allowed = [d for d in diffs if self._whitelisted(d, report)]
            report.shape_matches += len(allowed) == len(diffs)
            report.problems += [f"#{report.requests}: {d}" for d in diffs if d not in allowed]
        return report

    def compare(self, recorded: Any, response: httpx2.Response) -> list[str]:
        if isinstance(recorded, list):  # a stream: the raw SSE lines
            theirs, ours = sse_events("".join(recorded)), sse_events(response.text)
            diffs = []
            names = collapse(n for n, _ in theirs), collapse(n for n, _ in ours)
            if names[0] != names[1]:
                diffs.append(f"events {names[0]} != {names[1]}")
            for recorded_data, our_data in _pair_events(theirs, ours):
                self.learn(recorded_data, our_data)
                diffs += shape_diffs(recorded_data, our_data)
            return diffs
        if not response.headers.get("content-type", "").startswith("application/json"):
            return [] if recorded is None or isinstance(recorded, str) else ["- (not JSON)"]
        ours = response.json()
        self.learn(recorded, ours)
        return shape_diffs(recorded, ours)

    def _whitelisted(self, diff: str, report: Report) -> bool:
        for prefix in report.whitelist:
            if diff.startswith(prefix):
                report.deliberate.add(prefix)
                return True
        return False


def _upload(entry: dict[str, Any]) -> dict[str, Any]:
    """The multipart body of a recorded upload (the recordings keep only its headers), rebuilt
    from what the answer says: file name, purpose and size."""
    answer = entry["ResponseBody"]
    if "error" in answer:
        purpose = re.match(r"'(.*?)' is not one of", answer["error"]["message"])
        fields = {
            "filename": "file.txt",
            "purpose": purpose.group(1) if purpose else "",
            "bytes": 1,
        }
    else:
        fields = answer
    content = b"x" * fields["bytes"]
    return {
        "files": {"file": (fields["filename"], content)},
        "data": {"purpose": fields["purpose"]},
    }


def entries_of(path: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(path.read_text())["Entries"]
    return entries


async def replay_file(path: Path) -> Report:
    entries = entries_of(path)
    scenario = SCENARIOS.get(sync_twin(path))
    app = create_app(
        clock=FakeClock(start=1_761_861_530.0),
        scenario=Scenario.model_validate(scenario) if scenario else None,
    )
    transport = httpx2.ASGITransport(app=app)
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
            replayer = Replayer(path, http, app.state.engine.wait_until_settled)
            return await replayer.replay(entries)
    finally:
        await app.state.engine.aclose()


def table(reports: list[Report]) -> str:
    """The per-file results, as a Markdown table."""
    lines = [
        "| file | requests | status matches | shape matches | deliberate differences |",
        "|---|---|---|---|---|",
    ]
    for report in reports:
        deliberate = ", ".join(sorted(d for d in report.deliberate if d not in KNOWN)) or "-"
        known = " (+ known)" if report.deliberate & KNOWN.keys() else ""
        lines.append(
            f"| {report.name} | {report.requests} | {report.status_matches} |"
            f" {report.shape_matches} | {deliberate}{known} |"
        )
    return "\n".join(lines)


async def _main() -> None:
    reports = [await replay_file(path) for path in replayed_files()]
    print(table(reports))
    for report in reports:
        for problem in report.problems:
            print(f"{report.name} {problem}")


if __name__ == "__main__":
    asyncio.run(_main())
