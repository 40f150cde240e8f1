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

Bodies are read by `parsing.load_json` (standard JSON only, at most 64 levels deep) and
pydantic errors become the API's 400s in `parsing.validation_error`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import bad_request
from .parsing import load_json, validation_error

__all__ = [
    "AssistantBody",
    "AssistantFileBody",
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
    "parse_body",
    "response_format_object",
    "validate_body",
]

MAX_TOOLS = 128  # per assistant
MAX_RUN_TOOLS = 20  # per run (create run, create thread and run)
MAX_MESSAGE_CHARS = 256_000  # a message's content, or each of its text parts
MAX_TOOL_OUTPUTS_BYTES = 512 * 1024  # all the outputs of one submission, UTF-8, exclusive
MAX_INSTRUCTIONS_CHARS = 256_000  # an assistant's or a run's instructions
MAX_TOKENS = 2**31 - 1  # the largest max_prompt_tokens / max_completion_tokens
MAX_CODE_FILES = 20  # the code interpreter's file_ids (a v1 assistant's files)
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


class AssistantFileBody(_Body):
    """POST /assistants/{assistant_id}/files (Assistants v1)."""

    file_id: str


class MetadataBody(_Body):
    """POST /threads/{thread_id}/messages/{message_id} and .../runs/{run_id}: metadata only."""

    metadata: Metadata | None = None


class CodeInterpreterResources(_Body):
    file_ids: Annotated[list[str], Field(max_length=MAX_CODE_FILES)] = []


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


def _no_reserved_names(value: list[Any] | None) -> list[Any] | None:
    """Refuse a function named like the function a built-in tool beside it is offered to a
    model as (`python` for code_interpreter, `file_search`): see `model/mapping.py`."""
    from .model.mapping import tool_name_clash  # here: the model package imports this module

    if value is not None:
        clash = tool_name_clash([tool.model_dump() for tool in value])
        if clash is not None:
            raise ValueError(clash.removesuffix("."))
    return value


_RESERVED = AfterValidator(_no_reserved_names)


class _ToolsMixin(_Body):
    tools: Annotated[list[Tool] | None, _tool_limit(MAX_TOOLS), _RESERVED] = None


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

    model: str = ""  # absent keeps the assistant's; an explicit null is refused, as any non-string


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
    tools: Annotated[list[Tool] | None, _tool_limit(MAX_RUN_TOOLS), _RESERVED] = None
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
        raise validation_error(exc, data) from exc
    body.check()
    return body
