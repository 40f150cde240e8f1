"""Files: upload (multipart), retrieve, download, delete, list.

As the hosted API: a file is `processed` as soon as it is uploaded; ids look like
`file-` + 24 characters; an unknown id is a 404 "No such File object: X" (param `id`), whatever
its shape; a `purpose` outside the API's list is a 400 with the API's text. The bytes are kept in
the store beside the file object, so a server restarted on its database still serves them.

`expires_after` (anchor `created_at`, 3600 to 2592000 seconds) comes as the SDK sends it
(`expires_after[anchor]`, `expires_after[seconds]` fields) or as one JSON part; it sets the
file's `expires_at` (files are not deleted when it passes). Lists take up to 10,000 files, all
by default, as the spec says.

Deleting a file takes it out of every vector store, as the hosted API does.

A file's name is a label, never a path (RFC 7578, 4.2): the directories of a name sent as a
path (`../../etc/passwd`, `C:\\data\\notes.txt`, `/tmp/x`) are dropped and its last part kept,
as browsers do; a name with a control character (NUL, CR, LF...), more than 255 characters, or
nothing left once the directories go (`..`, `dir/`) is a 400, because no rewrite of it would be
what the client meant, and a CR/LF in a name echoed into a header or a log is an injection.
Azure's upload model (`/openai`, `/api/projects`) also has a `filename` form field, which names
the file whatever its part says; `/v1` refuses it, as the hosted OpenAI API does.

The multipart body is parsed by `forms.read_form` (a body cut short is a 400 and leaves no
temporary file behind); its size is capped by `middleware.BodyLimit` (`MAX_UPLOAD_BYTES`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .engine import RunEngine
from .errors import APIError, bad_request
from .file_search import FileSearch
from .forms import FormItem, UploadedFile, read_form
from .parsing import load_json
from .records import File
from .routing import Handler, delete, page

__all__ = ["PURPOSES", "file_routes"]

JSON = dict[str, Any]
_EXPIRY = re.compile(r"^expires_after\[(anchor|seconds)\]$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_FILENAME_CHARS = 255
PURPOSES = ("fine-tune", "assistants", "batch", "user_data", "vision", "evals")


def _file(engine: RunEngine, file_id: str) -> File:
    found = engine.store.get(File, file_id)
    if found is None:
        raise APIError(404, f"No such File object: {file_id}", param="id")
    return found


async def upload_file(request: Request, engine: RunEngine) -> Response:
    azure = not request.url.path.startswith("/v1/")
    return _store_upload(engine, await read_form(request, file_fields=("file",)), azure=azure)


def clean_filename(name: str, *, param: str = "file") -> str:
    """The name to keep for an uploaded file: its last path part; a 400 if there is none."""
    if _CONTROL.search(name):
        raise bad_request(
            "Invalid file name: it may not contain control characters (NUL, CR, LF...).",
            param=param,
            code="invalid_value",
        )
    base = re.split(r"[/\\]", name)[-1].strip()
    if base in ("", ".", ".."):
        raise bad_request(
            f"Invalid file name: {name[:64]!r} names a directory, not a file.",
            param=param,
            code="invalid_value",
        )
    if len(base) > MAX_FILENAME_CHARS:
        raise bad_request(
            f"Invalid file name: at most {MAX_FILENAME_CHARS} characters.",
            param=param,
            code="invalid_value",
        )
    return base


class ExpiresAfter(BaseModel):
    anchor: Literal["created_at"]
    seconds: int = Field(ge=3600, le=2_592_000)


def _expires_after(form: dict[str, str | UploadedFile]) -> ExpiresAfter | None:
    """The `expires_after` of an upload, from bracketed fields or a JSON part; 400 if invalid."""
    raw = form.get("expires_after")
    fields: Any = {key[14:-1]: form[key] for key in form if key.startswith("expires_after[")}
    if raw is None and not fields:
        return None
    try:
        return ExpiresAfter.model_validate(load_json(raw) if isinstance(raw, str) else fields)
    except (ValueError, APIError) as exc:  # broken JSON, or a pydantic ValidationError
        raise bad_request(
            "Invalid 'expires_after': expected 'anchor' = 'created_at' and 'seconds' from 3600"
            " to 2592000.",
            param="expires_after",
        ) from exc


def _store_upload(engine: RunEngine, items: list[FormItem], *, azure: bool) -> Response:
    known = ("file", "purpose", "expires_after") + (("filename",) if azure else ())
    for name, _ in items:
        if name not in known and not _EXPIRY.match(name):
            raise bad_request(f"Unrecognized request argument supplied: {name}", param=name)
    form = dict(items)  # a repeated field: the last one counts
    upload, purpose = form.get("file"), form.get("purpose")
    if not isinstance(upload, UploadedFile):
        raise bad_request("Missing required parameter: 'file'.", param="file")
    if not isinstance(purpose, str):
        raise bad_request("Missing required parameter: 'purpose'.", param="purpose")
    if purpose not in PURPOSES:
        allowed = "[" + ", ".join(f"'{name}'" for name in PURPOSES) + "]"
        raise bad_request(f"'{purpose}' is not one of {allowed} - 'purpose'", param="purpose")
    expires_after = _expires_after(form)
    named = form.get("filename")
    if isinstance(named, str) and named:
        filename = clean_filename(named, param="filename")
    else:
        filename = clean_filename(upload.filename) if upload.filename else "file"
    expires_at = None if expires_after is None else engine.now() + expires_after.seconds
    created = engine.files.add(filename, upload.content, purpose, expires_at=expires_at)
    return JSONResponse(created.to_wire())


async def list_files(request: Request, engine: RunEngine) -> Response:
    purpose = request.query_params.get("purpose")
    filters = {"purpose": purpose} if purpose else None
    return page(request, engine, File, None, filters, most=10_000, default=10_000)


async def retrieve_file(request: Request, engine: RunEngine) -> Response:
    return JSONResponse(_file(engine, request.path_params["file_id"]).to_wire())


async def file_content(request: Request, engine: RunEngine) -> Response:
    found = _file(engine, request.path_params["file_id"])
    content = engine.files.read(found.id)
    return Response(content, media_type="application/octet-stream")


async def delete_file(request: Request, engine: RunEngine) -> Response:
    """Delete a file and take it out of every vector store (its chunks are no longer searched)."""
    file = _file(engine, request.path_params["file_id"])
    search = FileSearch.of(engine.store, engine.clock.now)
    with engine.store.transaction():
        for store_id in search.tables.stores_with(file.id):
            search.delete_file(store_id, file.id)
        return delete(engine, file)


def file_routes() -> list[tuple[str, str, Handler]]:
    return [
        ("POST", "/files", upload_file),
        ("GET", "/files", list_files),
        ("GET", "/files/{file_id}", retrieve_file),
        ("DELETE", "/files/{file_id}", delete_file),
        ("GET", "/files/{file_id}/content", file_content),
    ]
