"""Request bodies, validated with pydantic before anything is stored.

Models follow `openai-openapi.yaml` (CreateAssistantRequest, CreateRunRequest, ...). Unknown
fields are rejected as the hosted API does ("Unrecognized request argument supplied: x"), so a
client typo shows up here instead of being silently ignored. `parse_body` turns a pydantic
error into a 400 in the API's error shape, naming the parameter (`tools[0].function.name`).

Field limits of the hosted API: a message's content (a string, or each text part) at most
256,000 characters, refused in the API's words for a string too long (`Invalid
'messages[0].content': string too long. Expected a string with maximum length 256000, but got a
string with length N instead.`, code `string_above_max_length`); the tool outputs of one
submission less than 512 kB together (UTF-8), refused with the API's text (`'tool_outputs' too
large: the combined tool outputs must be less than 512kb.`, param `tool_outputs`, code
`invalid_value`). The spec gives neither field a `maxLength`; the size of a whole request is
capped before it is read (`middleware.py`). A run's `instructions` and `additional_instructions`
are capped at 256,000 characters, as the assistant's are.

A body is standard JSON or a 400 at parse time, so nothing is stored that cannot be served back:
`NaN`, `Infinity` and `-Infinity` (which Python's `json` would take), numbers too large for a
float (`1e999`) and nesting deeper than `MAX_JSON_DEPTH` levels are refused (`load_json`), never
a `RecursionError`. Numbers out of a field's range get the hosted API's texts (`Invalid
'max_prompt_tokens': integer below minimum value. Expected a value >= 256, but got 10 instead.`,
code `integer_below_min_value`; `integer_above_max_value`, `decimal_below_min_value`,
`decimal_above_max_value`).
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import APIError, bad_request

__all__ = [
    "AssistantBody",
    "AssistantUpdateBody",
    "MessageBody",
    "MetadataBody",
    "RunBody",
    "RunOptions",
    "SubmitToolOutputsBody",
    "ThreadAndRunBody",
    "ThreadBody",
    "ThreadUpdateBody",
    "ToolOutput",
    "ToolResources",
    "load_json",
    "parse_body",
    "response_format_object",
    "validate_body",
]

MAX_TOOLS = 128  # per assistant
MAX_RUN_TOOLS = 20  # per run (create run, create thread and run)
MAX_MESSAGE_CHARS = 256_000  # a message's content, or each of its text parts
MAX_TOOL_OUTPUTS_BYTES = 512 * 1024  # all the outputs of one submission, UTF-8, exclusive
MAX_INSTRUCTIONS_CHARS = 256_000  # an assistant's or a run's instructions
MAX_JSON_DEPTH = 64  # arrays and objects inside each other, the body itself included
MAX_TOKENS = 2**31 - 1  # the largest max_prompt_tokens / max_completion_tokens
_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def check(self) -> None:
        """Rules over several fields, checked after validation; raises a 400 `APIError`."""


Model = TypeVar("Model", bound=_Body)


def _check_metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 16:
        raise ValueError("metadata can hold at most 16 key-value pairs")
    for key, item in value.items():
        if len(key) > 64 or len(item) > 512:
            raise ValueError("metadata keys are at most 64 characters, values at most 512")
    return value


Metadata = Annotated[dict[str, str], AfterValidator(_check_metadata)]


class FunctionDefinition(_Body):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _FUNCTION_NAME.match(value):
            raise ValueError("must be 1-64 characters of a-z, A-Z, 0-9, underscores and dashes")
        return value


class FunctionTool(_Body):
    type: Literal["function"]
    function: FunctionDefinition


class CodeInterpreterTool(_Body):
    type: Literal["code_interpreter"]


class RankingOptions(_Body):
    ranker: Literal["auto", "default_2024_08_21"] = "default_2024_08_21"
    score_threshold: float = Field(default=0.0, ge=0.0, le=1.0)
    hybrid_search: dict[str, Any] | None = None


class FileSearchSettings(_Body):
    max_num_results: int | None = Field(default=None, ge=1, le=50)
    ranking_options: RankingOptions | None = None


class FileSearchTool(_Body):
    type: Literal["file_search"]
    file_search: FileSearchSettings | None = None


Tool = Annotated[FunctionTool | CodeInterpreterTool | FileSearchTool, Field(discriminator="type")]


class NamedFunction(_Body):
    name: str


class NamedToolChoice(_Body):
    type: Literal["function", "code_interpreter", "file_search"]
    function: NamedFunction | None = None


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice


MessageText = Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]


class TextPart(_Body):
    type: Literal["text"]
    text: MessageText


class ImageURL(_Body):
    url: str
    detail: Literal["auto", "low", "high"] = "auto"


class ImageURLPart(_Body):
    type: Literal["image_url"]
    image_url: ImageURL


class ImageFile(_Body):
    file_id: str
    detail: Literal["auto", "low", "high"] = "auto"


class ImageFilePart(_Body):
    type: Literal["image_file"]
    image_file: ImageFile


ContentPart = Annotated[TextPart | ImageURLPart | ImageFilePart, Field(discriminator="type")]


class AttachmentTool(_Body):
    type: Literal["code_interpreter", "file_search"]


class Attachment(_Body):
    file_id: str
    tools: list[AttachmentTool] = []


class MessageBody(_Body):
    """POST /threads/{thread_id}/messages, and the items of `messages` / `additional_messages`."""

    role: Literal["user", "assistant"]
    content: MessageText | list[ContentPart]
    attachments: list[Attachment] | None = None
    metadata: Metadata | None = None


class MetadataBody(_Body):
    """POST /threads/{thread_id}/messages/{message_id} and .../runs/{run_id}: metadata only."""

    metadata: Metadata | None = None


class CodeInterpreterResources(_Body):
    file_ids: Annotated[list[str], Field(max_length=20)] = []


class FileSearchResources(_Body):
    vector_store_ids: Annotated[list[str] | None, Field(max_length=1)] = None
    vector_stores: Annotated[list[dict[str, Any]] | None, Field(max_length=1)] = None


class ToolResources(_Body):
    """`tool_resources` of an assistant or a thread: file ids and vector stores."""

    code_interpreter: CodeInterpreterResources | None = None
    file_search: FileSearchResources | None = None


ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Annotated[str, Field(pattern=_FUNCTION_NAME.pattern)]
    description: str | None = None
    schema_: Annotated[dict[str, Any] | None, Field(alias="schema")] = None
    strict: bool | None = None


class TextFormat(_Body):
    type: Literal["text", "json_object"]


class JsonSchemaResponseFormat(_Body):
    type: Literal["json_schema"]
    json_schema: JsonSchemaFormat


ResponseFormat = (
    Literal["auto"] | Annotated[TextFormat | JsonSchemaResponseFormat, Field(discriminator="type")]
)


def response_format_object(value: ResponseFormat | None) -> Any:
    """The `response_format` as echoed: "auto" or the format object as sent."""
    if value is None or isinstance(value, str):
        return value
    return value.model_dump(exclude_none=True, by_alias=True)


class TruncationStrategy(_Body):
    type: Literal["auto", "last_messages"]
    last_messages: int | None = Field(default=None, ge=1, le=MAX_TOKENS)


def _tool_limit(most: int) -> AfterValidator:
    def check(value: list[Any] | None) -> list[Any] | None:
        if value is not None and len(value) > most:
            raise ValueError(f"too many tools. The maximum number of tools is {most}")
        return value

    return AfterValidator(check)


class _ToolsMixin(_Body):
    tools: Annotated[list[Tool] | None, _tool_limit(MAX_TOOLS)] = None


class AssistantBody(_ToolsMixin):
    """POST /assistants."""

    model: str
    name: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=512)
    instructions: str | None = Field(default=None, max_length=MAX_INSTRUCTIONS_CHARS)
    reasoning_effort: ReasoningEffort | None = None
    tool_resources: ToolResources | None = None
    metadata: Metadata | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    response_format: ResponseFormat | None = None


class AssistantUpdateBody(AssistantBody):
    """POST /assistants/{assistant_id}: any field of an assistant."""

    model: str | None = None  # type: ignore[assignment]


class ThreadUpdateBody(_Body):
    """POST /threads/{thread_id}."""

    tool_resources: ToolResources | None = None
    metadata: Metadata | None = None


class ThreadBody(_Body):
    """POST /threads (and the `thread` of POST /threads/runs)."""

    messages: list[MessageBody] | None = None
    tool_resources: ToolResources | None = None
    metadata: Metadata | None = None


class RunOptions(_Body):
    """What a run may override of its assistant; shared by create run and create thread and run."""

    assistant_id: str
    tools: Annotated[list[Tool] | None, _tool_limit(MAX_RUN_TOOLS)] = None
    model: str | None = None
    instructions: str | None = Field(default=None, max_length=MAX_INSTRUCTIONS_CHARS)
    metadata: Metadata | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    stream: bool | None = None
    max_prompt_tokens: int | None = Field(default=None, ge=256, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=256, le=MAX_TOKENS)
    truncation_strategy: TruncationStrategy | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: ReasoningEffort | None = None


class RunBody(RunOptions):
    """POST /threads/{thread_id}/runs."""

    additional_instructions: str | None = Field(default=None, max_length=MAX_INSTRUCTIONS_CHARS)
    additional_messages: list[MessageBody] | None = None


class ThreadAndRunBody(RunOptions):
    """POST /threads/runs."""

    thread: ThreadBody | None = None
    tool_resources: ToolResources | None = None


class ToolOutput(_Body):
    tool_call_id: str
    output: str


class SubmitToolOutputsBody(_Body):
    """POST /threads/{thread_id}/runs/{run_id}/submit_tool_outputs."""

    tool_outputs: list[ToolOutput]
    stream: bool | None = None

    def check(self) -> None:
        size = sum(len(item.output.encode()) for item in self.tool_outputs)
        if size >= MAX_TOOL_OUTPUTS_BYTES:
            raise bad_request(
                "'tool_outputs' too large: the combined tool outputs must be less than 512kb.",
                param="tool_outputs",
                code="invalid_value",
            )


class _NotStandard(ValueError):
    """A value Python's `json` reads but JSON has not: NaN, Infinity, a float out of range."""


def _constant(name: str) -> Any:
    raise _NotStandard(name)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotStandard(text)
    return value


def _depth_over(data: Any, most: int) -> bool:
    """Whether arrays and objects nest more than `most` levels deep (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        if depth > most:
            return True
        stack.extend((child, depth + 1) for child in node)
    return False


def load_json(raw: bytes | str) -> Any:
    """Standard JSON, at most `MAX_JSON_DEPTH` levels deep, or a 400 `APIError`."""
    try:
        data = json.loads(raw, parse_constant=_constant, parse_float=_finite)
    except _NotStandard as exc:
        raise bad_request(
            f"We could not parse the JSON body of your request: {str(exc)[:32]} is not a JSON"
            " number. The OpenAI API expects a JSON payload, but what was sent was not valid JSON."
        ) from exc
    except RecursionError as exc:
        raise _too_deep() from exc
    except ValueError as exc:
        raise bad_request(
            "We could not parse the JSON body of your request. The OpenAI API expects a JSON"
            " payload, but what was sent was not valid JSON."
        ) from exc
    if _depth_over(data, MAX_JSON_DEPTH):
        raise _too_deep()
    return data


def _too_deep() -> APIError:
    return bad_request(
        f"The JSON body of your request is nested too deeply: at most {MAX_JSON_DEPTH} levels of"
        " arrays and objects."
    )


def parse_body(model: type[Model], raw: bytes) -> Model:
    """Parse and validate a JSON request body, or raise a 400 `APIError`."""
    data = load_json(raw) if raw.strip() else {}
    return validate_body(model, data)


def validate_body(model: type[Model], data: Any) -> Model:
    """Validate parsed JSON (`load_json`) against a body model, or raise a 400 `APIError`."""
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    try:
        body = model.model_validate(data)
    except ValidationError as exc:
        raise _to_api_error(exc, data) from exc
    body.check()
    return body


def _to_api_error(exc: ValidationError, data: dict[str, Any]) -> APIError:
    errors = exc.errors(include_url=False)
    # Of the first field's errors, the one reaching deepest into the request: a union (a
    # message's `content`, string or parts) reports every member it tried, and the member
    # that fits the request's shape says what is really wrong (`content[1].text`).
    field = [error for error in errors if error["loc"][:1] == errors[0]["loc"][:1]]
    param, error = max(
        ((_param_path(error["loc"], data), error) for error in field),
        key=lambda found: len(found[0]),
    )
    kind = error["type"]
    if kind == "missing":
        return bad_request(f"Missing required parameter: '{param}'.", param=param)
    if kind == "extra_forbidden":
        return bad_request(f"Unrecognized request argument supplied: {param}", param=param)
    if kind == "string_too_long":
        most, got = error.get("ctx", {}).get("max_length"), len(error["input"])
        return bad_request(
            f"Invalid '{param}': string too long. Expected a string with maximum length {most},"
            f" but got a string with length {got} instead.",
            param=param,
            code="string_above_max_length",
        )
    bound = _out_of_range(param, error)
    if bound is not None:
        return bound
    reason = error["msg"].removeprefix("Value error, ")
    return bad_request(f"Invalid value for '{param}': {reason}.", param=param)


_BOUNDS = {
    "greater_than_equal": ("below minimum", ">=", "ge", "below_min"),
    "less_than_equal": ("above maximum", "<=", "le", "above_max"),
}


def _out_of_range(param: str, error: Any) -> APIError | None:
    """A number outside a field's bounds, in the hosted API's words."""
    found = _BOUNDS.get(error["type"])
    if found is None:
        return None
    where, sign, key, code = found
    value, limit = error["input"], error["ctx"][key]
    kind = "decimal" if isinstance(limit, float) else "integer"  # float fields have float bounds
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)
    shown = str(value) if len(str(value)) <= 40 else str(value)[:40] + "..."
    return bad_request(
        f"Invalid '{param}': {kind} {where} value. Expected a value {sign} {limit},"
        f" but got {shown} instead.",
        param=param,
        code=f"{kind}_{code}_value",
    )


def _param_path(loc: tuple[int | str, ...], data: Any) -> str:
    """`tools.0.function.function.name` -> `tools[0].function.name`.

    pydantic puts the member it tried of a union into `loc` (a tag, a type name); walking the
    request alongside keeps only the parts that are really keys and indexes of it.
    """
    path, node = "", data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            path, node = f"{path}[{part}]", node[part]
        elif isinstance(node, dict) and (part in node or last):
            path, node = (f"{path}.{part}" if path else str(part)), node.get(part)
    return path
