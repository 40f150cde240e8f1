"""Scripted brains: a scenario file says what the assistant does, step by step.

A scenario is a name and a list of steps. Each step is exactly one of:

```yaml
- tool_calls:                      # the run requires_action with these calls (several = parallel)
    - name: get_weather
      arguments: {city: Paris}     # an object (sent as compact JSON), or a string sent
                                   # verbatim: '{"city": ' scripts a model's broken JSON
    - name: get_time
- message: "It is {output.get_weather} in Paris."   # an assistant message; the run completes
- fail: {code: rate_limit_exceeded, message: Slow down}   # server_error | rate_limit_exceeded
                                                          # | invalid_prompt; the run fails
- incomplete: {reason: max_completion_tokens}       # or max_prompt_tokens; the run is incomplete
- delay: 2.5                       # wait (on the server's clock), then go on with the next step
- file_search: {query: "refund policy"}   # a real search of the run's vector stores (a query
                                          # or a list; placeholders allowed), then the next step
- code_interpreter:                # the server runs this code in the thread's Python session
    code: |                        # (a tool_calls step); the run goes on with the next step
      import numpy as np, matplotlib.pyplot as plt
      plt.plot(np.sin(np.linspace(0, 6, 100))); plt.show()
```

The steps of a thread are consumed in order across the thread's runs, so a multi-run conversation
can be scripted: a `message`, `fail` or `incomplete` step ends the run, and the thread's next run
starts at the step after it. A `tool_calls` step waits for the outputs, then the next step runs in
the same run.

Placeholders in a `message` (`{{` and `}}` stand for literal braces):

- `{outputs}`: the outputs of the run's latest tool round, in call order, joined with ", ";
- `{output.NAME}`: the output of the run's latest call to the tool NAME;
- `{last_user_message}`: the text of the thread's latest user message;
- `{search.top}`: the best result of the run's latest `file_search` step, its text followed by
  its citation marker `【0:0†file_name】` (which becomes a `file_citation` annotation);
  `{search.results}`: every result so, one per line. With no result, both say so.
- `{code.output}`: the text output (logs) of the run's latest `code_interpreter` call. Images it
  displayed are attached to the next message, and `sandbox:/mnt/data/NAME` links in a message
  become `file_path` annotations of the files the code wrote.

Unknown placeholders, `{output.NAME}` for a tool no earlier step calls, and `{outputs}` before any
`tool_calls` step are errors when the file is loaded. If a run asks for a step past the end of its
scenario, it fails with `last_error.code = "server_error"` and a message naming the scenario and
the step number; it never hangs.

A file (YAML or JSON; YAML is a superset) holds one scenario (`name`, `steps`) or several:

```yaml
default: weather         # optional: the scenario runs use when their assistant names none
scenarios:
  weather: {steps: [...]}
  flaky: {steps: [...]}
```

Scenario selection: an assistant whose `metadata["scenario"]` names a loaded scenario uses it
(creating an assistant that names an unknown scenario is a 400); other assistants use the
server's default scenario, or `DefaultBrain` when there is none.
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .brains import (
    Brain,
    BuiltinCall,
    CallBuiltins,
    CallTools,
    DecidingBrain,
    Decision,
    DefaultBrain,
    Delay,
    ErrorCode,
    Fail,
    Incomplete,
    IncompleteReason,
    Reply,
    ToolCall,
    Turn,
)
from .brains.citing import NO_RESULTS, passages
from .errors import ServerError, bad_request

_SEARCHED = "<file_search>"  # among the tools called: a file_search step came before

__all__ = [
    "BrainChooser",
    "Scenario",
    "ScenarioError",
    "ScenarioFile",
    "ScriptedBrain",
    "load_scenario",
    "load_scenarios",
]


_CODE = "code_interpreter"  # the tool name of a code interpreter call among a turn's rounds


class ScenarioError(ServerError, ValueError):
    """A scenario file that cannot be used; the message names the file and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScriptedCall(_Strict):
    name: str
    arguments: str = "{}"

    @field_validator("arguments", mode="before")
    @classmethod
    def _arguments(cls, value: Any) -> Any:
        """An object becomes compact JSON; a string is sent as it is, valid JSON or not."""
        if isinstance(value, dict):
            return json.dumps(value, separators=(",", ":"))
        return value


class ScriptedFailure(_Strict):
    code: ErrorCode
    message: str


class ScriptedIncomplete(_Strict):
    reason: IncompleteReason


class ScriptedSearch(_Strict):
    query: str | list[str] = Field(min_length=1)

    @property
    def queries(self) -> list[str]:
        return [self.query] if isinstance(self.query, str) else self.query


class ScriptedCode(_Strict):
    code: str


class Step(_Strict):
    """One step of a scenario: exactly one of its fields is set."""

    tool_calls: list[ScriptedCall] | None = Field(default=None, min_length=1)
    message: str | None = None
    fail: ScriptedFailure | None = None
    incomplete: ScriptedIncomplete | None = None
    delay: float | None = Field(default=None, ge=0)
    file_search: ScriptedSearch | None = None
    code_interpreter: ScriptedCode | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        chosen = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(chosen) != 1:
            fields = ", ".join(type(self).model_fields)
            raise ValueError(f"a step has exactly one of {fields}; this one has {chosen or 'none'}")
        return self

    @property
    def kind(self) -> str:
        """The field this step sets: `tool_calls`, `message`, `delay`..."""
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)

    def decision(self) -> Decision:
        if self.tool_calls is not None:
            return CallTools(tuple(ToolCall(c.name, c.arguments) for c in self.tool_calls))
        if self.fail is not None:
            return Fail(self.fail.code, self.fail.message)
        if self.incomplete is not None:
            return Incomplete(self.incomplete.reason)
        if self.delay is not None:
            return Delay(self.delay)
        if self.code_interpreter is not None:
            return CallBuiltins((BuiltinCall("code_interpreter", self.code_interpreter.code),))
        raise AssertionError("message steps are rendered, not converted")


class Scenario(_Strict):
    """A named list of steps; see the module docstring for the format."""

    name: str
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _placeholders(self) -> Scenario:
        called: set[str] = set()
        for number, step in enumerate(self.steps, start=1):
            if step.tool_calls:
                called.update(call.name for call in step.tool_calls)
            for text in step.file_search.queries if step.file_search else []:
                _check_placeholders(text, called, number)
            if step.file_search is not None:
                called.add(_SEARCHED)
            if step.code_interpreter is not None:
                called.add(_CODE)
            if step.message is not None:
                _check_placeholders(step.message, called, number)
        return self


def _fields(template: str) -> list[str]:
    """The placeholders of a template; a format spec or conversion is an error."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} takes no format spec or conversion")
        names.append(name)
    return names


def _check_placeholders(template: str, called: set[str], number: int) -> None:
    where = f"step {number}"
    try:
        names = _fields(template)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    for name in names:
        if name == "last_user_message" or (name == "code.output" and _CODE in called):
            continue
        if name in ("search.top", "search.results"):
            if _SEARCHED in called:
                continue
            raise ValueError(f"{where}: {{{name}}} has no earlier file_search step to quote")
        if name == "code.output":
            raise ValueError(f"{where}: {{code.output}} has no earlier code_interpreter step")
        if name == "outputs" and called:
            continue
        if name.startswith("output.") and name[len("output.") :] in called:
            continue
        if name == "outputs" or name.startswith("output."):
            raise ValueError(f"{where}: {{{name}}} has no earlier tool_calls step to quote")
        raise ValueError(
            f"{where}: unknown placeholder {{{name}}} (known: {{outputs}}, {{output.TOOL}},"
            " {last_user_message}, {search.top}, {search.results}, {code.output})"
        )


class ScenarioFile(_Strict):
    """The scenarios of one file, and which one is the default."""

    scenarios: dict[str, Scenario]
    default: str | None = None

    @model_validator(mode="after")
    def _default_exists(self) -> ScenarioFile:
        if self.default is not None and self.default not in self.scenarios:
            raise ValueError(f"default names {self.default!r}, which is not in scenarios")
        return self

    @property
    def default_scenario(self) -> Scenario | None:
        if self.default is not None:
            return self.scenarios[self.default]
        if len(self.scenarios) == 1:
            return next(iter(self.scenarios.values()))
        return None


def _named(data: Any) -> Any:
    """Fill in each scenario's `name` from its key in a `scenarios:` mapping."""
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), dict):
        return data
    scenarios = {}
    for key, value in data["scenarios"].items():
        scenarios[key] = {"name": key, **value} if isinstance(value, dict) else value
    return {**data, "scenarios": scenarios}


def load_scenarios(path: str | os.PathLike[str]) -> ScenarioFile:
    """Read a scenario file holding one scenario or several."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{os.fspath(path)}: cannot read the scenario file: {exc}") from exc
    try:
        if isinstance(data, dict) and "scenarios" in data:
            return ScenarioFile.model_validate(_named(data))
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{os.fspath(path)}: {_describe(exc)}") from exc
    return ScenarioFile(scenarios={scenario.name: scenario})


def load_scenario(path: str | os.PathLike[str], name: str | None = None) -> Scenario:
    """One scenario from a file: `name`, else the file's default (or its only scenario)."""
    loaded = load_scenarios(path)
    scenario = loaded.scenarios.get(name) if name is not None else loaded.default_scenario
    if scenario is None:
        wanted = repr(name) if name is not None else "a default scenario"
        raise ScenarioError(f"{os.fspath(path)}: no {wanted} (it has {sorted(loaded.scenarios)})")
    return scenario


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        where = where.lstrip(".")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


class ScriptedBrain:
    """Plays a scenario: one step per decision, its position kept in the thread's memory."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._key = f"scenario:{scenario.name}"
        self._reached: dict[str, int] = {}  # thread id -> steps played there (by this brain)

    def unplayed(self) -> dict[str, list[str]]:
        """The steps each thread that played this scenario has not reached yet, by thread
        id, as `"3 (message)"`: step number and kind; threads that played them all are left out."""
        steps = self.scenario.steps
        return {
            thread: [
                f"{number} ({steps[number - 1].kind})" for number in range(done + 1, len(steps) + 1)
            ]
            for thread, done in sorted(self._reached.items())
            if done < len(steps)
        }

    async def decide(self, turn: Turn) -> Decision:
        index: int = turn.memory.get(self._key, 0)
        steps = self.scenario.steps
        self._reached[turn.run["thread_id"]] = min(index + 1, len(steps))
        if index >= len(steps):
            return Fail(
                "server_error",
                f"Scenario {self.scenario.name!r} has no step {index + 1}: all {len(steps)} of"
                " its steps were used by earlier turns.",
            )
        turn.memory[self._key] = index + 1
        step = steps[index]
        if step.message is None and step.file_search is None:
            return step.decision()
        try:
            if step.file_search is not None:
                query = step.file_search.query
                queries = tuple(
                    _render(q, turn) for q in ([query] if isinstance(query, str) else query)
                )
                return CallBuiltins((BuiltinCall("file_search", queries=queries),))
            assert step.message is not None
            return Reply(_render(step.message, turn))
        except LookupError as exc:
            return Fail(
                "server_error",
                f"Scenario {self.scenario.name!r}, step {index + 1}: {exc.args[0]}",
            )


def _listed(steps: list[str], most: int = 3) -> str:
    """`2 (message), 3 (tool_calls)`; past `most` steps, `... and 97 more`."""
    shown = ", ".join(steps[:most])
    return shown if len(steps) <= most else f"{shown} and {len(steps) - most} more"


def _render(template: str, turn: Turn) -> str:
    values: Mapping[str, str] = _placeholder_values(turn)
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(literal)
        if name is not None:
            if name not in values:
                raise LookupError(
                    f"{{{name}}} has nothing to quote: no such tool output in this run"
                )
            parts.append(values[name])
    return "".join(parts)


def _placeholder_values(turn: Turn) -> dict[str, str]:
    values = {"last_user_message": turn.last_user_message}
    for round_ in turn.rounds:
        for result in round_:
            values[f"output.{result.name}"] = result.output
            if result.name == _CODE:
                values["code.output"] = result.output
    if turn.rounds:
        values["outputs"] = ", ".join(result.output for result in turn.rounds[-1])
    searched = [r for round_ in turn.rounds for r in round_ if r.name == "file_search"]
    if searched:
        found = passages(searched[-1].output)
        values["search.top"] = found[0].cited(None) if found else NO_RESULTS
        values["search.results"] = "\n".join(p.cited(None) for p in found) or NO_RESULTS
    return values


class BrainChooser:
    """Picks the brain of a run from its assistant (see "Scenario selection" above)."""

    def __init__(
        self,
        scenarios: Mapping[str, Scenario] | None = None,
        default: Scenario | None = None,
        *,
        override: Brain | DecidingBrain | None = None,
    ) -> None:
        self._override = override
        self._brains: dict[str, ScriptedBrain] = {
            name: ScriptedBrain(scenario) for name, scenario in (scenarios or {}).items()
        }
        self._default: Brain | DecidingBrain = DefaultBrain()
        if default is not None:
            same = self._brains.get(default.name)
            self._default = same if same and same.scenario == default else ScriptedBrain(default)

    @classmethod
    def load(
        cls,
        scenario: Scenario | str | os.PathLike[str] | None,
        scenarios: Mapping[str, Scenario] | None,
        *,
        override: Brain | DecidingBrain | None = None,
    ) -> BrainChooser:
        """From `create_app`'s arguments: a scenario or a scenario file, plus named scenarios."""
        named = dict(scenarios or {})
        default = scenario if isinstance(scenario, Scenario) else None
        if scenario is not None and not isinstance(scenario, Scenario):
            loaded = load_scenarios(scenario)
            named = {**loaded.scenarios, **named}
            default = loaded.default_scenario
        if default is not None:
            named.setdefault(default.name, default)
        return cls(named, default, override=override)

    def check_metadata(self, metadata: Mapping[str, str] | None) -> None:
        """Refuse an assistant whose `metadata["scenario"]` names no loaded scenario."""
        name = (metadata or {}).get("scenario")
        if name is not None and name not in self._brains:
            known = ", ".join(sorted(self._brains)) or "none"
            raise bad_request(
                f"Invalid value for 'metadata.scenario': no scenario named {name!r} is loaded"
                f" (loaded: {known}).",
                param="metadata.scenario",
            )

    def unplayed(self) -> dict[str, dict[str, list[str]]]:
        """The steps left unplayed, by scenario name, then thread id (see
        `ScriptedBrain.unplayed`); empty when every thread that played a scenario finished it.
        For tests, after their runs have settled."""
        return {
            brain.scenario.name: left for brain in self._scripted() if (left := brain.unplayed())
        }

    def assert_consumed(self) -> None:
        """Raise AssertionError naming the steps left unplayed (see `unplayed`)::

        Scenario 'weather' has 2 steps, but thread_1 played 1, left 2 (message).
        """
        problems = []
        for brain in self._scripted():
            total = len(brain.scenario.steps)
            short = [
                f"{thread} played {total - len(left)}, left {_listed(left)}"
                for thread, left in brain.unplayed().items()
            ]
            if short:
                problems.append(
                    f"Scenario {brain.scenario.name!r} has {total} steps, but {'; '.join(short)}."
                )
        if problems:
            raise AssertionError(" ".join(problems))

    def _scripted(self) -> list[ScriptedBrain]:
        """Every scripted brain this chooser can pick, once each."""
        brains = [self._override, self._default, *self._brains.values()]
        return list(dict.fromkeys(b for b in brains if isinstance(b, ScriptedBrain)))

    def brain_for(self, assistant: Mapping[str, Any]) -> Brain | DecidingBrain:
        if self._override is not None:
            return self._override
        name = (assistant.get("metadata") or {}).get("scenario")
        return self._brains.get(name, self._default) if name else self._default
