"""Files: upload (multipart), retrieve, download, delete, list.

As the hosted API: a file is `processed` as soon as it is uploaded; ids look like
`file-` + 24 characters; an unknown id is a 404 "No such File object: X" (param `id`), whatever
its shape; a `purpose` outside the API's list is a 400 with the API's text. The bytes are kept in
the store beside the file object, so a server restarted on its database still serves them.
"""

from __future__ import annotations

import base64
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .engine import RunEngine
from .errors import APIError, bad_request
from .objects import file_object
from .routing import Handler, delete, page

__all__ = ["PURPOSES", "file_routes"]

JSON = dict[str, Any]
PURPOSES = ("fine-tune", "assistants", "batch", "user_data", "vision", "evals")


def _file(engine: RunEngine, file_id: str) -> JSON:
    found = engine.store.get("files", file_id)
    if found is None:
        raise APIError(404, f"No such File object: {file_id}", param="id")
    return found


async def upload_file(request: Request, engine: RunEngine) -> Response:
    try:
        form = await request.form()
    except Exception as exc:  # not multipart, or a broken body
        raise bad_request("The request body must be multipart/form-data.") from exc
    try:
        return _store_upload(engine, form.get("file"), form.get("purpose"))
    finally:
        await form.close()


def _store_upload(engine: RunEngine, upload: Any, purpose: Any) -> Response:
    if not isinstance(upload, UploadFile):
        raise bad_request("Missing required parameter: 'file'.", param="file")
    if not isinstance(purpose, str):
        raise bad_request("Missing required parameter: 'purpose'.", param="purpose")
    if purpose not in PURPOSES:
        allowed = "[" + ", ".join(f"'{name}'" for name in PURPOSES) + "]"
        raise bad_request(f"'{purpose}' is not one of {allowed} - 'purpose'", param="purpose")
    upload.file.seek(0)
    content = upload.file.read()
    created = file_object(upload.filename or "file", len(content), purpose, created_at=engine.now())
    engine.store.insert("files", created, state={"content": base64.b64encode(content).decode()})
    return JSONResponse(created)


async def list_files(request: Request, engine: RunEngine) -> Response:
    purpose = request.query_params.get("purpose")
    return page(request, engine, "files", None, {"purpose": purpose} if purpose else None)


async def retrieve_file(request: Request, engine: RunEngine) -> Response:
    return JSONResponse(_file(engine, request.path_params["file_id"]))


async def file_content(request: Request, engine: RunEngine) -> Response:
    found = _file(engine, request.path_params["file_id"])
    content = base64.b64decode(engine.store.state("files", found["id"])["content"])
    return Response(content, media_type="application/octet-stream")


async def delete_file(request: Request, engine: RunEngine) -> Response:
    return delete(engine, "files", _file(engine, request.path_params["file_id"]))


def file_routes() -> list[tuple[str, str, Handler]]:
    return [
        ("POST", "/files", upload_file),
        ("GET", "/files", list_files),
        ("GET", "/files/{file_id}", retrieve_file),
        ("DELETE", "/files/{file_id}", delete_file),
        ("GET", "/files/{file_id}/content", file_content),
    ]
